# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Korean (ko)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = 안내: 귀하의 신분증에 관한 법적 요청
notice-greeting = { $name } 님께
notice-answered = { $program }에서 { $day }에 귀하의 카드에 관한 법적 요청에 답변했습니다(참조 번호: { $reference }). 이 요청은 법적 절차에 관한 프로그램 규정을 충족했으며, 프로그램은 귀하가 카드를 신청하실 때 약속드린 대로 이 사실을 알려 드립니다.
notice-kept = 프로그램은 최소한의 정보만 보관합니다. 귀하가 제시한 서류의 사본, 읽을 수 있는 형태의 서류 번호, 이민 또는 시민권 신분에 관한 어떠한 정보도 보관하지 않으므로, 어떤 답변에도 이러한 정보가 포함될 수 없습니다.
notice-questions = 질문이 있으시거나 어떤 정보가 전달되었는지 알고 싶으시면, 카드를 가지고 아무 등록 센터나 방문하시거나 프로그램 사무소에 연락해 주십시오. 변호사와 상담하시는 것도 고려해 보시기 바랍니다.

## The holder's access report: who asked about their card.

report-title = 귀하의 카드 { $card } 조회 내역
report-lead = { $program }, { $today }. 귀하의 카드에 관한 모든 조회 및 정보 제공 내역입니다: 날짜, 요청자, 사유, 제공된 정보.
report-day = 날짜
report-asked-by = 요청자
report-why = 사유
report-released = 제공된 정보
report-nothing-released = 없음(거부됨)
report-nobody = 귀하의 카드를 조회한 사람이 없습니다.
report-withheld = 일부 항목은 당분간 표시되지 않을 수 있습니다. 법원이 법적 요청에 대해 귀하에게 알리는 것을 금지한 경우, 해당 요청은 금지가 끝난 후 여기에 표시됩니다. 귀하가 직접 창구를 방문한 기록은 표시되지 않습니다.
report-never-kept = 프로그램은 귀하의 서류 사본이나 이민 신분에 관한 어떠한 정보도 보관하지 않으므로, 어떤 답변에도 이러한 정보가 포함될 수 없었습니다.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = { $years }세 이상
word-card_valid = 카드 유효
word-resident = 거주자
word-photo = 사진
word-card_status = 카드 상태
word-full_name = 성명
word-date_of_birth = 생년월일
word-address = 주소
word-attestations = 서류 확인 증명
word-access_log = 조회 기록
word-card_number = 카드 번호
word-document_match = 서류 일치 여부
word-name_matches = 이름 일치 여부
word-birth_date_matches = 생년월일 일치 여부
word-address_matches = 주소 일치 여부
word-library_services = 도서관 서비스
word-parks_recreation = 공원 및 레크리에이션
word-cultural_institution = 문화 기관
word-health_services = 보건 의료 서비스
word-transit_discount = 대중교통 할인
word-senior_services = 노인 서비스
word-benefits_enrollment = 복지 혜택 신청
word-financial_services = 금융 서비스
word-identity_check = 신원 확인
word-card_printing = 카드 인쇄
word-judicial_warrant = 법원 영장(판사 서명)
word-court_order = 법원 명령
word-subpoena = 소환장
word-public_records = 공공 기록 공개 청구
word-city_agency = 시 기관
word-city_partner = 시 협력 기관
word-local_law_enforcement = 지역 경찰 또는 검찰
word-state_agency = 주 기관
word-federal_other = 연방 기관
word-private_party = 민간 당사자
word-federal_immigration = 연방 이민 당국
word-immigration_enforcement = 이민 단속
word-civil_immigration_enforcement = 민사 이민 단속
word-bulk_screening = 대량 일괄 조회
word-data_brokerage = 데이터 판매

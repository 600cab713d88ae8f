# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Traditional Chinese (zh-Hant)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = 通知：有關您身分證明卡的法律請求
notice-greeting = { $name } 您好：
notice-answered = { $program } 已於 { $day } 回覆一項有關您卡片的法律請求（參考編號：{ $reference }）。該請求符合本計劃對法律程序的規定。按照您申請時本計劃所作的承諾，現特此通知您。
notice-kept = 本計劃盡可能少保存資料。本計劃從不保存您所出示文件的副本、可讀形式的文件號碼，或任何有關移民或公民身分的資訊，因此任何回覆都不可能包含這些內容。
notice-questions = 如果您有疑問，或想知道提供了哪些資料，請攜帶您的卡片前往任何申請中心，或聯絡本計劃辦公室。您也可以考慮諮詢律師。

## The holder's access report: who asked about their card.

report-title = 誰查詢過您的卡片 { $card }
report-lead = { $program }，{ $today }。以下列出有關您卡片的每一次查詢和資料披露：日期、查詢者、原因，以及提供了哪些資料。
report-day = 日期
report-asked-by = 查詢者
report-why = 原因
report-released = 提供的資料
report-nothing-released = 無（已拒絕）
report-nobody = 沒有人查詢過您的卡片。
report-withheld = 部分紀錄可能暫時不予顯示：當法院禁止告知您某項法律請求時，該請求將在禁令結束後顯示於此。您本人到櫃台辦理事務的紀錄不會列出。
report-never-kept = 本計劃從不保存您文件的副本或任何有關移民身分的資訊，因此任何回覆都不可能包含這些內容。

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = 年滿 { $years } 歲
word-card_valid = 卡片有效
word-resident = 居民
word-photo = 照片
word-card_status = 卡片狀態
word-full_name = 全名
word-date_of_birth = 出生日期
word-address = 地址
word-attestations = 文件核實證明
word-access_log = 查詢紀錄
word-card_number = 卡號
word-document_match = 文件相符
word-name_matches = 姓名相符
word-birth_date_matches = 出生日期相符
word-address_matches = 地址相符
word-library_services = 圖書館服務
word-parks_recreation = 公園及康樂
word-cultural_institution = 文化機構
word-health_services = 醫療保健服務
word-transit_discount = 交通優惠
word-senior_services = 長者服務
word-benefits_enrollment = 福利登記
word-financial_services = 金融服務
word-identity_check = 身分核實
word-card_printing = 卡片印製
word-judicial_warrant = 司法令狀（由法官簽發）
word-court_order = 法院命令
word-subpoena = 傳票
word-public_records = 公共紀錄查閱申請
word-city_agency = 市政府機構
word-city_partner = 市政府合作夥伴
word-local_law_enforcement = 地方警察或檢察官
word-state_agency = 州政府機構
word-federal_other = 聯邦機構
word-private_party = 私人當事方
word-federal_immigration = 聯邦移民機構
word-immigration_enforcement = 移民執法
word-civil_immigration_enforcement = 民事移民執法
word-bulk_screening = 大規模篩查
word-data_brokerage = 資料買賣

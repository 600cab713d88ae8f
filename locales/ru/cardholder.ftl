# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Russian (ru)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = Уведомление: юридический запрос о Вашей идентификационной карте
notice-greeting = Уважаемый(-ая) { $name }!
notice-answered = { $day } программа { $program } ответила на юридический запрос о Вашей карте (номер обращения: { $reference }). Запрос соответствовал правилам программы в отношении юридических процедур, и программа сообщает Вам об этом, как обещала, когда Вы подавали заявление на карту.
notice-kept = Программа хранит как можно меньше данных. Она никогда не хранит копии предъявленных Вами документов, их номера в читаемом виде или какие-либо сведения об иммиграционном статусе или гражданстве, поэтому ни один ответ не может их содержать.
notice-questions = Если у Вас есть вопросы или Вы хотите узнать, что было передано, принесите свою карту в любой центр оформления или свяжитесь с офисом программы. Возможно, Вам также стоит поговорить с адвокатом.

## The holder's access report: who asked about their card.

report-title = Кто запрашивал сведения о Вашей карте { $card }
report-lead = { $program }, { $today }. Здесь перечислены все запросы и случаи раскрытия сведений о Вашей карте: дата, кто запрашивал, с какой целью и что было передано.
report-day = Дата
report-asked-by = Кто запрашивал
report-why = Цель
report-released = Что передано
report-nothing-released = ничего (отказано)
report-nobody = Никто не запрашивал сведения о Вашей карте.
report-withheld = Некоторые записи могут быть пока скрыты: если суд запрещает сообщать Вам о юридическом запросе, этот запрос появится здесь после окончания запрета. Ваши личные обращения к стойке обслуживания здесь не указываются.
report-never-kept = Программа никогда не хранит копии Ваших документов или какие-либо сведения об иммиграционном статусе, поэтому ни один ответ не мог их содержать.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = возраст старше { $years }
word-card_valid = карта действительна
word-resident = житель
word-photo = фотография
word-card_status = статус карты
word-full_name = полное имя
word-date_of_birth = дата рождения
word-address = адрес
word-attestations = подтверждения проверки документов
word-access_log = журнал запросов
word-card_number = номер карты
word-document_match = совпадение документа
word-name_matches = совпадение имени
word-birth_date_matches = совпадение даты рождения
word-address_matches = совпадение адреса
word-library_services = библиотечные услуги
word-parks_recreation = парки и отдых
word-cultural_institution = учреждение культуры
word-health_services = медицинские услуги
word-transit_discount = скидка на проезд
word-senior_services = услуги для пожилых людей
word-benefits_enrollment = оформление пособий и льгот
word-financial_services = финансовые услуги
word-identity_check = проверка личности
word-card_printing = печать карты
word-judicial_warrant = судебный ордер
word-court_order = постановление суда
word-subpoena = судебная повестка
word-public_records = запрос на доступ к публичным записям
word-city_agency = городское ведомство
word-city_partner = партнёр города
word-local_law_enforcement = местная полиция или прокуратура
word-state_agency = ведомство штата
word-federal_other = федеральное ведомство
word-private_party = частное лицо или организация
word-federal_immigration = федеральная иммиграционная служба
word-immigration_enforcement = иммиграционный контроль
word-civil_immigration_enforcement = административный (неуголовный) иммиграционный контроль
word-bulk_screening = массовая проверка
word-data_brokerage = торговля данными

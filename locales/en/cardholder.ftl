### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = Notice: a legal request about your ID card
notice-greeting = Dear { $name },
notice-answered = On { $day }, { $program } answered a legal request about your card (reference: { $reference }). The request met the program's rules for legal process, and the program is telling you, as it promised when you applied.
notice-kept = The program keeps as little as it can. It never keeps copies of the documents you showed, their numbers in readable form, or anything about immigration or citizenship status, so no answer can include them.
notice-questions = If you have questions, or want to know what was sent, bring your card to any enrollment center or contact the program office. You may also want to speak with a lawyer.

## The holder's access report: who asked about their card.

report-title = Who asked about your card { $card }
report-lead = { $program }, { $today }. This is every query and disclosure about your card: the day, who asked, why, and what was released.
report-day = Day
report-asked-by = Asked by
report-why = Why
report-released = Released
report-nothing-released = nothing (refused)
report-nobody = No one has asked about your card.
report-withheld = Some entries may be withheld for now: when a court prohibits telling you about a legal request, that request appears here once the prohibition ends. Your own visits to the counter are not listed.
report-never-kept = The program never keeps copies of your documents or anything about immigration status, so no answer could have included them.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = age over { $years }
word-card_valid = card valid
word-resident = resident
word-photo = photo
word-card_status = card status
word-full_name = full name
word-date_of_birth = date of birth
word-address = address
word-attestations = document attestations
word-access_log = access log
word-card_number = card number
word-document_match = document match
word-name_matches = name matches
word-birth_date_matches = birth date matches
word-address_matches = address matches
word-library_services = library services
word-parks_recreation = parks and recreation
word-cultural_institution = cultural institution
word-health_services = health services
word-transit_discount = transit discount
word-senior_services = senior services
word-benefits_enrollment = benefits enrollment
word-financial_services = financial services
word-identity_check = identity check
word-card_printing = card printing
word-judicial_warrant = judicial warrant
word-court_order = court order
word-subpoena = subpoena
word-public_records = public records request
word-city_agency = city agency
word-city_partner = city partner
word-local_law_enforcement = local law enforcement
word-state_agency = state agency
word-federal_other = federal agency
word-private_party = private party
word-federal_immigration = federal immigration
word-immigration_enforcement = immigration enforcement
word-civil_immigration_enforcement = civil immigration enforcement
word-bulk_screening = bulk screening
word-data_brokerage = data brokerage

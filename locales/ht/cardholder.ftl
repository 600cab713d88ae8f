# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Haitian Creole (ht)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = Avi: yon demann legal sou kat idantite ou
notice-greeting = Chè { $name },
notice-answered = Nan dat { $day }, { $program } te reponn yon demann legal sou kat ou (referans: { $reference }). Demann nan te respekte règ pwogram nan pou pwosedi legal yo, epi pwogram nan ap fè ou konnen sa, jan li te pwomèt ou lè ou te aplike pou kat la.
notice-kept = Pwogram nan kenbe pi piti enfòmasyon li kapab. Li pa janm kenbe kopi dokiman ou te montre yo, ni nimewo yo nan yon fòm moun ka li, ni okenn enfòmasyon sou estati imigrasyon oswa sitwayènte, kidonk okenn repons pa ka gen enfòmasyon sa yo ladan.
notice-questions = Si ou gen kesyon, oswa si ou vle konnen kisa yo te voye, tanpri pote kat ou nan nenpòt sant enskripsyon oswa kontakte biwo pwogram nan. Ou ka vle pale ak yon avoka tou.

## The holder's access report: who asked about their card.

report-title = Kiyès ki te mande enfòmasyon sou kat ou { $card }
report-lead = { $program }, { $today }. Men chak demann ak chak divilgasyon enfòmasyon sou kat ou: jou a, kiyès ki te mande, poukisa, ak kisa yo te bay.
report-day = Jou
report-asked-by = Kiyès ki te mande
report-why = Poukisa
report-released = Kisa yo te bay
report-nothing-released = anyen (yo te refize)
report-nobody = Pèsonn pa t mande enfòmasyon sou kat ou.
report-withheld = Gen kèk antre ki ka pa parèt pou kounye a: lè yon tribinal entèdi pou yo di ou anyen sou yon demann legal, demann sa a ap parèt isit la lè entèdiksyon an fini. Vizit ou menm fè nan kontwa a pa nan lis la.
report-never-kept = Pwogram nan pa janm kenbe kopi dokiman ou yo ni okenn enfòmasyon sou estati imigrasyon, kidonk okenn repons pa t ka gen enfòmasyon sa yo ladan.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = gen plis pase { $years } an
word-card_valid = kat valab
word-resident = rezidan
word-photo = foto
word-card_status = estati kat la
word-full_name = non konplè
word-date_of_birth = dat nesans
word-address = adrès
word-attestations = atestasyon dokiman
word-access_log = rejis demann yo
word-card_number = nimewo kat
word-document_match = dokiman an koresponn
word-name_matches = non an koresponn
word-birth_date_matches = dat nesans lan koresponn
word-address_matches = adrès la koresponn
word-library_services = sèvis bibliyotèk
word-parks_recreation = pak ak rekreyasyon
word-cultural_institution = enstitisyon kiltirèl
word-health_services = sèvis sante
word-transit_discount = rabè sou transpò piblik
word-senior_services = sèvis pou granmoun aje
word-benefits_enrollment = enskripsyon pou benefis
word-financial_services = sèvis finansye
word-identity_check = verifikasyon idantite
word-card_printing = enpresyon kat
word-judicial_warrant = manda jidisyè (yon jij siyen)
word-court_order = lòd tribinal
word-subpoena = sitasyon (subpoena)
word-public_records = demann dosye piblik
word-city_agency = ajans minisipal
word-city_partner = patnè minisipal
word-local_law_enforcement = polis oswa pwokirè lokal
word-state_agency = ajans leta
word-federal_other = ajans federal
word-private_party = pati prive
word-federal_immigration = imigrasyon federal
word-immigration_enforcement = aplikasyon lwa imigrasyon
word-civil_immigration_enforcement = aplikasyon sivil lwa imigrasyon
word-bulk_screening = verifikasyon an mas
word-data_brokerage = vann done

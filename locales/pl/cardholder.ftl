# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Polish (pl)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = Zawiadomienie: wniosek prawny dotyczący Pana/Pani karty identyfikacyjnej
notice-greeting = Szanowna Pani / Szanowny Panie { $name },
notice-answered = Dnia { $day } program { $program } odpowiedział na wniosek prawny dotyczący Pana/Pani karty (numer referencyjny: { $reference }). Wniosek spełniał zasady programu dotyczące postępowań prawnych, dlatego program informuje o tym Pana/Panią, tak jak obiecał, gdy składał(a) Pan/Pani wniosek o kartę.
notice-kept = Program przechowuje jak najmniej danych. Nigdy nie przechowuje kopii okazanych przez Pana/Panią dokumentów, ich numerów w czytelnej postaci ani żadnych informacji o statusie imigracyjnym lub obywatelstwie, dlatego żadna odpowiedź nie może ich zawierać.
notice-questions = Jeśli ma Pan/Pani pytania lub chce się dowiedzieć, co zostało przekazane, prosimy przyjść z kartą do dowolnego punktu rejestracji lub skontaktować się z biurem programu. Warto także rozważyć rozmowę z prawnikiem.

## The holder's access report: who asked about their card.

report-title = Kto pytał o Pana/Pani kartę { $card }
report-lead = { $program }, { $today }. Poniżej znajdują się wszystkie zapytania i przypadki ujawnienia informacji dotyczące Pana/Pani karty: dzień, kto pytał, w jakim celu i co zostało przekazane.
report-day = Dzień
report-asked-by = Kto pytał
report-why = Cel
report-released = Co przekazano
report-nothing-released = nic (odmowa)
report-nobody = Nikt nie pytał o Pana/Pani kartę.
report-withheld = Niektóre wpisy mogą być na razie niewidoczne: jeśli sąd zakazuje informowania Pana/Pani o wniosku prawnym, wniosek ten pojawi się tutaj po ustaniu zakazu. Pana/Pani własne wizyty przy okienku nie są tu wymienione.
report-never-kept = Program nigdy nie przechowuje kopii Pana/Pani dokumentów ani żadnych informacji o statusie imigracyjnym, dlatego żadna odpowiedź nie mogła ich zawierać.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = wiek powyżej { $years } lat
word-card_valid = karta ważna
word-resident = mieszkaniec
word-photo = zdjęcie
word-card_status = status karty
word-full_name = imię i nazwisko
word-date_of_birth = data urodzenia
word-address = adres
word-attestations = poświadczenia dokumentów
word-access_log = rejestr zapytań
word-card_number = numer karty
word-document_match = zgodność dokumentu
word-name_matches = zgodność imienia i nazwiska
word-birth_date_matches = zgodność daty urodzenia
word-address_matches = zgodność adresu
word-library_services = usługi biblioteczne
word-parks_recreation = parki i rekreacja
word-cultural_institution = instytucja kultury
word-health_services = usługi zdrowotne
word-transit_discount = zniżka na komunikację miejską
word-senior_services = usługi dla seniorów
word-benefits_enrollment = zapisy na świadczenia
word-financial_services = usługi finansowe
word-identity_check = weryfikacja tożsamości
word-card_printing = druk karty
word-judicial_warrant = nakaz sądowy
word-court_order = postanowienie sądu
word-subpoena = wezwanie sądowe (subpoena)
word-public_records = wniosek o dostęp do informacji publicznej
word-city_agency = agencja miejska
word-city_partner = partner miasta
word-local_law_enforcement = lokalna policja lub prokuratura
word-state_agency = agencja stanowa
word-federal_other = agencja federalna
word-private_party = podmiot prywatny
word-federal_immigration = federalne służby imigracyjne
word-immigration_enforcement = egzekwowanie prawa imigracyjnego
word-civil_immigration_enforcement = egzekwowanie prawa imigracyjnego w trybie cywilnym
word-bulk_screening = masowa weryfikacja
word-data_brokerage = handel danymi

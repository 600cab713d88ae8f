# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: French (fr)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = Avis : une demande juridique concernant votre carte d'identité
notice-greeting = Bonjour { $name },
notice-answered = Le { $day }, { $program } a répondu à une demande juridique concernant votre carte (référence : { $reference }). La demande respectait les règles du programme en matière de procédures judiciaires, et le programme vous en informe, comme il s'y était engagé lorsque vous avez demandé votre carte.
notice-kept = Le programme conserve le moins d'informations possible. Il ne conserve jamais de copies des documents que vous avez présentés, ni leurs numéros sous une forme lisible, ni aucune information sur le statut d'immigration ou de citoyenneté ; aucune réponse ne peut donc les contenir.
notice-questions = Si vous avez des questions ou souhaitez savoir ce qui a été transmis, présentez-vous avec votre carte dans n'importe quel centre d'inscription ou contactez le bureau du programme. Il peut aussi être utile de consulter un avocat.

## The holder's access report: who asked about their card.

report-title = Qui a consulté votre carte { $card }
report-lead = { $program }, { $today }. Voici toutes les consultations et communications d'informations concernant votre carte : le jour, qui a demandé, pourquoi et ce qui a été communiqué.
report-day = Jour
report-asked-by = Demandé par
report-why = Motif
report-released = Informations communiquées
report-nothing-released = rien (demande refusée)
report-nobody = Personne n'a consulté votre carte.
report-withheld = Certaines entrées peuvent être masquées pour le moment : lorsqu'un tribunal interdit de vous informer d'une demande juridique, cette demande apparaît ici une fois l'interdiction levée. Vos propres passages au guichet ne sont pas indiqués.
report-never-kept = Le programme ne conserve jamais de copies de vos documents ni aucune information sur le statut d'immigration ; aucune réponse n'a donc pu les contenir.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = plus de { $years } ans
word-card_valid = carte valide
word-resident = résident
word-photo = photo
word-card_status = statut de la carte
word-full_name = nom complet
word-date_of_birth = date de naissance
word-address = adresse
word-attestations = attestations de documents
word-access_log = registre des consultations
word-card_number = numéro de carte
word-document_match = correspondance du document
word-name_matches = correspondance du nom
word-birth_date_matches = correspondance de la date de naissance
word-address_matches = correspondance de l'adresse
word-library_services = services de bibliothèque
word-parks_recreation = parcs et loisirs
word-cultural_institution = institution culturelle
word-health_services = services de santé
word-transit_discount = réduction sur les transports
word-senior_services = services aux personnes âgées
word-benefits_enrollment = inscription aux prestations sociales
word-financial_services = services financiers
word-identity_check = vérification d'identité
word-card_printing = impression de la carte
word-judicial_warrant = mandat judiciaire
word-court_order = ordonnance du tribunal
word-subpoena = assignation (subpoena)
word-public_records = demande d'accès aux documents publics
word-city_agency = service municipal
word-city_partner = partenaire municipal
word-local_law_enforcement = police ou procureur local
word-state_agency = agence de l'État
word-federal_other = agence fédérale
word-private_party = partie privée
word-federal_immigration = services fédéraux de l'immigration
word-immigration_enforcement = application des lois sur l'immigration
word-civil_immigration_enforcement = application civile des lois sur l'immigration
word-bulk_screening = contrôle de masse
word-data_brokerage = vente de données

# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Spanish (es)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = Aviso: una solicitud legal sobre su tarjeta de identificación
notice-greeting = Estimado/a { $name }:
notice-answered = El { $day }, { $program } respondió a una solicitud legal sobre su tarjeta (referencia: { $reference }). La solicitud cumplía las reglas del programa para procesos legales, y el programa se lo comunica, como se comprometió cuando usted presentó su solicitud.
notice-kept = El programa guarda lo mínimo posible. Nunca guarda copias de los documentos que usted presentó, ni sus números en forma legible, ni nada sobre su situación migratoria o de ciudadanía, así que ninguna respuesta puede incluirlos.
notice-questions = Si tiene preguntas o quiere saber qué se envió, lleve su tarjeta a cualquier centro de inscripción o comuníquese con la oficina del programa. También puede consultar con un abogado.

## The holder's access report: who asked about their card.

report-title = Quién consultó su tarjeta { $card }
report-lead = { $program }, { $today }. Esta es la lista de cada consulta y divulgación sobre su tarjeta: el día, quién preguntó, para qué y qué se entregó.
report-day = Día
report-asked-by = Quién preguntó
report-why = Para qué
report-released = Qué se entregó
report-nothing-released = nada (rechazada)
report-nobody = Nadie ha consultado su tarjeta.
report-withheld = Algunas entradas pueden omitirse por ahora: cuando un tribunal prohíbe avisarle de una solicitud legal, esa solicitud aparece aquí cuando la prohibición termina. Sus visitas al mostrador no se incluyen.
report-never-kept = El programa nunca guarda copias de sus documentos ni nada sobre su situación migratoria, así que ninguna respuesta pudo incluirlos.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = mayor de { $years } años
word-card_valid = tarjeta válida
word-resident = residente
word-photo = foto
word-card_status = estado de la tarjeta
word-full_name = nombre completo
word-date_of_birth = fecha de nacimiento
word-address = dirección
word-attestations = constancias de documentos
word-access_log = registro de consultas
word-card_number = número de tarjeta
word-document_match = coincidencia de documento
word-name_matches = coincidencia de nombre
word-birth_date_matches = coincidencia de fecha de nacimiento
word-address_matches = coincidencia de dirección
word-library_services = servicios de biblioteca
word-parks_recreation = parques y recreación
word-cultural_institution = institución cultural
word-health_services = servicios de salud
word-transit_discount = descuento de transporte
word-senior_services = servicios para mayores
word-benefits_enrollment = inscripción en beneficios
word-financial_services = servicios financieros
word-identity_check = verificación de identidad
word-card_printing = impresión de la tarjeta
word-judicial_warrant = orden judicial de registro
word-court_order = orden judicial
word-subpoena = citación
word-public_records = solicitud de registros públicos
word-city_agency = agencia municipal
word-city_partner = socio municipal
word-local_law_enforcement = policía o fiscalía local
word-state_agency = agencia estatal
word-federal_other = agencia federal
word-private_party = parte privada
word-federal_immigration = inmigración federal
word-immigration_enforcement = control migratorio
word-civil_immigration_enforcement = control migratorio civil
word-bulk_screening = revisión masiva
word-data_brokerage = venta de datos

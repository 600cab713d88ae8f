# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Arabic (ar)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = إشعار: طلب قانوني بشأن بطاقة الهوية الخاصة بكم
notice-greeting = عزيزي/عزيزتي { $name }،
notice-answered = في { $day }، ردّ { $program } على طلب قانوني بشأن بطاقتكم (الرقم المرجعي: { $reference }). وقد استوفى الطلب قواعد البرنامج الخاصة بالإجراءات القانونية، ويُبلغكم البرنامج بذلك وفاءً بالوعد الذي قطعه لكم عند تقديمكم طلب الحصول على البطاقة.
notice-kept = يحتفظ البرنامج بأقل قدر ممكن من المعلومات. ولا يحتفظ أبدًا بنسخ من المستندات التي قدمتموها، ولا بأرقامها بصيغة مقروءة، ولا بأي معلومات عن وضع الهجرة أو الجنسية، ولذلك لا يمكن أن يتضمنها أي رد.
notice-questions = إذا كانت لديكم أسئلة، أو أردتم معرفة ما تم إرساله، فيُرجى إحضار بطاقتكم إلى أي مركز تسجيل أو التواصل مع مكتب البرنامج. وقد ترغبون أيضًا في التحدث مع محامٍ.

## The holder's access report: who asked about their card.

report-title = مَن استفسر عن بطاقتكم { $card }
report-lead = { $program }، { $today }. فيما يلي كل استفسار وكل إفصاح يتعلق ببطاقتكم: اليوم، ومَن سأل، ولماذا، وما الذي تم الإفصاح عنه.
report-day = اليوم
report-asked-by = مَن سأل
report-why = السبب
report-released = ما تم الإفصاح عنه
report-nothing-released = لا شيء (تم الرفض)
report-nobody = لم يستفسر أحد عن بطاقتكم.
report-withheld = قد يتم حجب بعض القيود مؤقتًا: عندما تمنع المحكمة إبلاغكم بطلب قانوني، يظهر ذلك الطلب هنا بعد انتهاء المنع. ولا تُدرج هنا زياراتكم الشخصية إلى شباك الخدمة.
report-never-kept = لا يحتفظ البرنامج أبدًا بنسخ من مستنداتكم ولا بأي معلومات عن وضع الهجرة، ولذلك لم يكن من الممكن أن يتضمنها أي رد.

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = العمر أكثر من { $years } سنة
word-card_valid = البطاقة سارية
word-resident = مقيم
word-photo = صورة
word-card_status = حالة البطاقة
word-full_name = الاسم الكامل
word-date_of_birth = تاريخ الميلاد
word-address = العنوان
word-attestations = إثباتات التحقق من المستندات
word-access_log = سجل الاستفسارات
word-card_number = رقم البطاقة
word-document_match = تطابق المستند
word-name_matches = تطابق الاسم
word-birth_date_matches = تطابق تاريخ الميلاد
word-address_matches = تطابق العنوان
word-library_services = خدمات المكتبات
word-parks_recreation = الحدائق والترفيه
word-cultural_institution = مؤسسة ثقافية
word-health_services = الخدمات الصحية
word-transit_discount = خصم المواصلات العامة
word-senior_services = خدمات كبار السن
word-benefits_enrollment = التسجيل في الإعانات
word-financial_services = الخدمات المالية
word-identity_check = التحقق من الهوية
word-card_printing = طباعة البطاقة
word-judicial_warrant = مذكرة قضائية صادرة عن قاضٍ
word-court_order = أمر محكمة
word-subpoena = أمر استدعاء (مذكرة إحضار)
word-public_records = طلب الاطلاع على السجلات العامة
word-city_agency = جهة حكومية تابعة للمدينة
word-city_partner = شريك للمدينة
word-local_law_enforcement = الشرطة أو النيابة العامة المحلية
word-state_agency = جهة حكومية تابعة للولاية
word-federal_other = جهة حكومية فيدرالية
word-private_party = طرف خاص
word-federal_immigration = سلطات الهجرة الفيدرالية
word-immigration_enforcement = إنفاذ قوانين الهجرة
word-civil_immigration_enforcement = الإنفاذ المدني لقوانين الهجرة
word-bulk_screening = فحص جماعي
word-data_brokerage = بيع البيانات

# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Urdu (ur)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = اطلاع: آپ کے شناختی کارڈ کے بارے میں ایک قانونی درخواست
notice-greeting = محترم/محترمہ { $name }،
notice-answered = { $day } کو { $program } نے آپ کے کارڈ کے بارے میں ایک قانونی درخواست کا جواب دیا (حوالہ: { $reference })۔ یہ درخواست قانونی کارروائی سے متعلق پروگرام کے قواعد پر پوری اترتی تھی، اور پروگرام آپ کو اس کی اطلاع دے رہا ہے، جیسا کہ اس نے اس وقت وعدہ کیا تھا جب آپ نے کارڈ کے لیے درخواست دی تھی۔
notice-kept = پروگرام کم سے کم معلومات رکھتا ہے۔ یہ آپ کی دکھائی گئی دستاویزات کی نقول، ان کے نمبر قابلِ مطالعہ شکل میں، یا امیگریشن یا شہریت کی حیثیت کے بارے میں کوئی بھی معلومات کبھی نہیں رکھتا، اس لیے کسی بھی جواب میں یہ چیزیں شامل نہیں ہو سکتیں۔
notice-questions = اگر آپ کے کوئی سوالات ہیں، یا آپ جاننا چاہتے ہیں کہ کیا بھیجا گیا، تو براہِ کرم اپنا کارڈ لے کر کسی بھی اندراج مرکز پر تشریف لائیں یا پروگرام کے دفتر سے رابطہ کریں۔ آپ چاہیں تو کسی وکیل سے بھی مشورہ کر سکتے ہیں۔

## The holder's access report: who asked about their card.

report-title = آپ کے کارڈ { $card } کے بارے میں کس نے پوچھا
report-lead = { $program }، { $today }۔ یہ آپ کے کارڈ کے بارے میں ہر استفسار اور معلومات کی ہر فراہمی کی تفصیل ہے: تاریخ، کس نے پوچھا، کیوں، اور کیا فراہم کیا گیا۔
report-day = تاریخ
report-asked-by = کس نے پوچھا
report-why = کیوں
report-released = کیا فراہم کیا گیا
report-nothing-released = کچھ نہیں (درخواست مسترد)
report-nobody = کسی نے آپ کے کارڈ کے بارے میں نہیں پوچھا۔
report-withheld = کچھ اندراجات فی الحال ظاہر نہیں کیے جا سکتے: جب کوئی عدالت آپ کو کسی قانونی درخواست کے بارے میں بتانے سے منع کرتی ہے، تو وہ درخواست پابندی ختم ہونے کے بعد یہاں ظاہر ہو گی۔ کاؤنٹر پر آپ کی اپنی آمد اس فہرست میں شامل نہیں ہے۔
report-never-kept = پروگرام آپ کی دستاویزات کی نقول یا امیگریشن کی حیثیت کے بارے میں کوئی بھی معلومات کبھی نہیں رکھتا، اس لیے کسی بھی جواب میں یہ چیزیں شامل نہیں ہو سکتی تھیں۔

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = عمر { $years } سال سے زیادہ
word-card_valid = کارڈ مؤثر
word-resident = رہائشی
word-photo = تصویر
word-card_status = کارڈ کی حیثیت
word-full_name = پورا نام
word-date_of_birth = تاریخ پیدائش
word-address = پتہ
word-attestations = دستاویزات کی تصدیقات
word-access_log = استفسارات کا ریکارڈ
word-card_number = کارڈ نمبر
word-document_match = دستاویز کی مطابقت
word-name_matches = نام کی مطابقت
word-birth_date_matches = تاریخ پیدائش کی مطابقت
word-address_matches = پتے کی مطابقت
word-library_services = لائبریری کی خدمات
word-parks_recreation = پارکس اور تفریح
word-cultural_institution = ثقافتی ادارہ
word-health_services = صحت کی خدمات
word-transit_discount = پبلک ٹرانسپورٹ میں رعایت
word-senior_services = بزرگوں کے لیے خدمات
word-benefits_enrollment = سرکاری فوائد (بینیفٹس) میں اندراج
word-financial_services = مالیاتی خدمات
word-identity_check = شناخت کی تصدیق
word-card_printing = کارڈ کی چھپائی
word-judicial_warrant = عدالتی وارنٹ (جج کا جاری کردہ)
word-court_order = عدالتی حکم
word-subpoena = عدالتی سمن (سب پینا)
word-public_records = سرکاری ریکارڈ تک رسائی کی درخواست
word-city_agency = شہر کا سرکاری ادارہ
word-city_partner = شہر کا شراکت دار
word-local_law_enforcement = مقامی پولیس یا سرکاری وکیلِ استغاثہ
word-state_agency = ریاستی ادارہ
word-federal_other = وفاقی ادارہ
word-private_party = نجی فریق
word-federal_immigration = وفاقی امیگریشن حکام
word-immigration_enforcement = امیگریشن قوانین کا نفاذ
word-civil_immigration_enforcement = امیگریشن قوانین کا دیوانی نفاذ
word-bulk_screening = بڑے پیمانے پر جانچ
word-data_brokerage = ڈیٹا کی خرید و فروخت

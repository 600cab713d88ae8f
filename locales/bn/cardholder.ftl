# DRAFT: machine-drafted translation from English, to be reviewed and confirmed by the city's translators before use with cardholders.
# Language: Bengali (bn)

### civic-vault: texts sent or handed to a cardholder (Project Fluent).
### English is the source; every other language is translated from it.
### Variables in { $braces } are filled in by the vault: keep them as they are.

## The notice of a legal request answered about the holder's card.

notice-title = বিজ্ঞপ্তি: আপনার পরিচয়পত্র সম্পর্কে একটি আইনি অনুরোধ
notice-greeting = প্রিয় { $name },
notice-answered = { $day } তারিখে { $program } আপনার কার্ড সম্পর্কে একটি আইনি অনুরোধের জবাব দিয়েছে (রেফারেন্স: { $reference })। অনুরোধটি আইনি প্রক্রিয়া সংক্রান্ত প্রোগ্রামের নিয়ম পূরণ করেছে, এবং আপনি কার্ডের জন্য আবেদন করার সময় প্রোগ্রাম যে প্রতিশ্রুতি দিয়েছিল, সেই অনুযায়ী আপনাকে তা জানানো হচ্ছে।
notice-kept = প্রোগ্রাম যতটা সম্ভব কম তথ্য সংরক্ষণ করে। আপনি যে নথিপত্র দেখিয়েছিলেন সেগুলোর কপি, পড়া যায় এমন আকারে সেগুলোর নম্বর, অথবা অভিবাসন বা নাগরিকত্বের অবস্থা সম্পর্কে কোনো তথ্য প্রোগ্রাম কখনোই সংরক্ষণ করে না, তাই কোনো জবাবে সেগুলো থাকতে পারে না।
notice-questions = আপনার কোনো প্রশ্ন থাকলে, বা কী পাঠানো হয়েছে তা জানতে চাইলে, অনুগ্রহ করে আপনার কার্ড নিয়ে যেকোনো নিবন্ধন কেন্দ্রে আসুন অথবা প্রোগ্রাম অফিসে যোগাযোগ করুন। আপনি চাইলে একজন আইনজীবীর সাথেও কথা বলতে পারেন।

## The holder's access report: who asked about their card.

report-title = আপনার কার্ড { $card } সম্পর্কে কে জানতে চেয়েছে
report-lead = { $program }, { $today }। এখানে আপনার কার্ড সম্পর্কে প্রতিটি অনুসন্ধান ও তথ্য প্রকাশের বিবরণ রয়েছে: তারিখ, কে জানতে চেয়েছে, কেন, এবং কী প্রকাশ করা হয়েছে।
report-day = তারিখ
report-asked-by = কে জানতে চেয়েছে
report-why = কেন
report-released = কী দেওয়া হয়েছে
report-nothing-released = কিছুই না (প্রত্যাখ্যাত)
report-nobody = কেউ আপনার কার্ড সম্পর্কে জানতে চায়নি।
report-withheld = কিছু এন্ট্রি আপাতত দেখানো না-ও হতে পারে: আদালত যখন কোনো আইনি অনুরোধ সম্পর্কে আপনাকে জানাতে নিষেধ করে, তখন সেই নিষেধাজ্ঞা শেষ হলে অনুরোধটি এখানে দেখা যাবে। কাউন্টারে আপনার নিজের যাওয়ার কথা এখানে তালিকাভুক্ত করা হয় না।
report-never-kept = প্রোগ্রাম কখনোই আপনার নথিপত্রের কপি বা অভিবাসন অবস্থা সম্পর্কে কোনো তথ্য সংরক্ষণ করে না, তাই কোনো জবাবে সেগুলো থাকা সম্ভব ছিল না।

## Words a report can hold: what was released, why it was asked, who asked.

word-age-over = বয়স { $years } বছরের বেশি
word-card_valid = কার্ড বৈধ
word-resident = বাসিন্দা
word-photo = ছবি
word-card_status = কার্ডের অবস্থা
word-full_name = পূর্ণ নাম
word-date_of_birth = জন্ম তারিখ
word-address = ঠিকানা
word-attestations = নথিপত্র যাচাইয়ের প্রত্যয়ন
word-access_log = অনুসন্ধানের রেকর্ড
word-card_number = কার্ড নম্বর
word-document_match = নথির মিল
word-name_matches = নামের মিল
word-birth_date_matches = জন্ম তারিখের মিল
word-address_matches = ঠিকানার মিল
word-library_services = লাইব্রেরি সেবা
word-parks_recreation = পার্ক ও বিনোদন
word-cultural_institution = সাংস্কৃতিক প্রতিষ্ঠান
word-health_services = স্বাস্থ্য সেবা
word-transit_discount = গণপরিবহনে ছাড়
word-senior_services = প্রবীণদের জন্য সেবা
word-benefits_enrollment = সরকারি সুবিধায় নাম নথিভুক্তি
word-financial_services = আর্থিক সেবা
word-identity_check = পরিচয় যাচাই
word-card_printing = কার্ড ছাপানো
word-judicial_warrant = বিচারিক ওয়ারেন্ট (বিচারকের স্বাক্ষরিত পরোয়ানা)
word-court_order = আদালতের আদেশ
word-subpoena = সাবপিনা (আদালতের সমন)
word-public_records = সরকারি রেকর্ড দেখার অনুরোধ
word-city_agency = সিটি সংস্থা
word-city_partner = সিটির অংশীদার
word-local_law_enforcement = স্থানীয় পুলিশ বা সরকারি কৌঁসুলি
word-state_agency = অঙ্গরাজ্যের সংস্থা
word-federal_other = ফেডারেল সংস্থা
word-private_party = বেসরকারি পক্ষ
word-federal_immigration = ফেডারেল অভিবাসন কর্তৃপক্ষ
word-immigration_enforcement = অভিবাসন আইন প্রয়োগ
word-civil_immigration_enforcement = দেওয়ানি অভিবাসন আইন প্রয়োগ
word-bulk_screening = ব্যাপক যাচাই-বাছাই
word-data_brokerage = তথ্য বেচাকেনা

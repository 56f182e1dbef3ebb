"""Sample texts for the tests, written for this suite (nothing here is copied from elsewhere)."""
# ruff: noqa: E501

from __future__ import annotations

# A clean short English news article (~200 words) with a headline line. The rare local names
# (Pellingham, Trevaskis) are spelled the same way every time they occur.
CLEAN_TITLE = "Pellingham opens its new flood barrier after three years of work"
CLEAN = f"""{CLEAN_TITLE}

The coastal town of Pellingham on Tuesday opened a flood barrier that engineers say will protect about 4,000 homes from the winter storms that have swamped its harbour twice in the past decade.

The barrier, a row of steel gates set into the old sea wall, cost 38 million pounds and took three years to build. Most of the money came from the national flood defence fund, with the rest raised by the county council through a small increase in local taxes.

"We have waited a long time for this," said Joan Trevaskis, who has run a bakery on the harbour front for twenty years. "The last flood ruined our ovens and kept us closed for four months."

Council engineers tested the gates last week during a spring tide. They closed in eleven minutes, well inside the thirty minutes the design allows, according to a report published by the council.

Trevaskis said she would still keep sandbags in the back room. "I trust the engineers, but the sea has surprised us before," she said.

The council plans a public walk along the new wall on Saturday. Pellingham residents can also visit an exhibition on the project at the town library until the end of the month.
"""

# A scraped page: site title, navigation, the title repeated, an e-mail address, related posts and a
# cookie banner around a short article.
SCRAPED_TITLE = "City council approves budget for new library in Eastbrook"
SCRAPED = f"""{SCRAPED_TITLE} | Local News | eastbrook-courier.example.com
Home
News
Local
Sport
Weather
{SCRAPED_TITLE}
{SCRAPED_TITLE}
The city council voted on Monday evening to approve a budget of 12 million dollars for a new public library in the Eastbrook district.
Council members said the current library, built in 1962, no longer meets safety codes and has been closed to visitors on its upper floor since last spring.
Construction is expected to start next summer and to take about two years, a spokesperson for the council said.
Local residents welcomed the decision but some asked why the project had taken so long to reach a vote.
Related posts
Five things to do in Eastbrook this weekend
Council election results: who won in your ward
Police close main road after water pipe bursts
Send your news tips to newsdesk.tips42@gmail.com
We use cookies to improve your experience on our website. By continuing to browse you accept our use of cookies. Accept all | Manage preferences
© 2024 Eastbrook Courier. All rights reserved.
"""

# A spun copy: synonyms swapped in, and names mangled in some places while the same text spells
# them right elsewhere (Okonkwo three times, Hartlepool twice, Ravensworth and Bellamy once each).
# Found → intended, as the text writes them (the evidence keeps the document's own spelling).
SPUN_MANGLED = {
    "Okonkow": "Okonkwo",
    "Ravensworht": "Ravensworth",
    "Hartlepoll": "Hartlepool",
    "Belamy": "Bellamy",
}
SPUN = """Minister Okonkwo declares fresh backing for seaside towns

Secretary Adaeze Okonkwo on Wednesday declared a fresh package of backing for seaside towns, telling authorities in Hartlepool that the administration would aid local firms hit by the latest storms.

Okonkow stated the scheme would give youngsters in the region new apprenticeships and that the funds would reach Hartlepoll before the end of the year. The nation, she expressed, could not leave its coastal residences behind.

Local chief Martin Ravensworth welcomed the accord but cautioned that earlier schemes had been slow. "We have heard promises before," Ravensworht stated at the assembly. He added that Hartlepool needed the backing quickly because the marketplace for local fish had dropped sharply in seven days.

Opposition spokesperson Clara Bellamy stated the bargain was too small. Belamy told the tribunal of public opinion that individuals in the town deserved better, and Okonkwo declined to respond.
"""

# The clean article with a line in which common words stand where two known surnames belong (the
# shipped model's name_slot_swaps finds both: Keir Starmer, Scott Bessent).
NAME_SWAPS = CLEAN + """Prime Minister Keir Starter and President Emmanuel Macro met in Paris on Friday, where Chancellor Rachel Reeves and Treasury Secretary Scott Scent joined them for talks on trade and steel tariffs.
"""

# A German news article (~120 words).
GERMAN = """Stadtrat beschließt neuen Radweg entlang der Elbe

Der Stadtrat hat am Dienstagabend mit großer Mehrheit beschlossen, einen neuen Radweg entlang des Elbufers zu bauen. Die Strecke soll rund sieben Kilometer lang werden und die Altstadt mit den südlichen Stadtteilen verbinden.

Die Kosten werden auf etwa neun Millionen Euro geschätzt. Ein großer Teil des Geldes kommt aus einem Förderprogramm des Bundes, den Rest trägt die Stadt aus ihrem eigenen Haushalt.

„Wir wollen, dass mehr Menschen im Alltag das Fahrrad nutzen", sagte die Bürgermeisterin nach der Sitzung. Umweltverbände begrüßten die Entscheidung, forderten aber, dass die Bäume am Ufer erhalten bleiben. Die Bauarbeiten sollen im kommenden Frühjahr beginnen und etwa zwei Jahre dauern.
"""

# A Japanese news article (~290 characters, written without spaces between words).
JAPANESE_TITLE = "東京都、公立小学校の給食費を来年度から無償に"
JAPANESE = f"""{JAPANESE_TITLE}

東京都は二十日、来年度から都内の公立小学校で給食費を無償にすると発表した。対象は約六十万人の児童で、必要な費用は年間およそ三百億円になる見通しだ。

知事は記者会見で「子育て世帯の負担を少しでも減らしたい」と述べた。保護者の間では歓迎する声が多い一方、財源の確保を心配する意見もある。

都の担当者によると、食材の価格が上がっているため、給食の質を保つための補助も合わせて検討している。区や市との調整は今年の秋までに終える予定だという。

専門家は「無償化は家計の助けになるが、給食を作る現場の人手不足にも目を向ける必要がある」と指摘している。
"""

# An Arabic news article (~90 words), written right to left; each paragraph ends with a full stop.
ARABIC = """افتتاح مكتبة عامة جديدة في وسط المدينة

افتتحت البلدية يوم الثلاثاء مكتبة عامة جديدة في وسط المدينة، تضم أكثر من خمسين ألف كتاب وقاعة للقراءة تتسع لمئتي شخص.

وقال رئيس البلدية إن المشروع استغرق ثلاث سنوات وكلف نحو عشرة ملايين دولار، مشيرا إلى أن المكتبة ستفتح أبوابها كل يوم من الساعة التاسعة صباحا حتى العاشرة مساء.

ورحب السكان بالمشروع، وقالت إحدى المعلمات إن طلابها سيستفيدون كثيرا من القاعة الجديدة ومن الكتب المخصصة للأطفال.
"""

# Spam: promotional phrases, capitals, exclamation marks and repeated lines.
SPAM_LINE = "BEST CHEAP CAR INSURANCE!!! Click here to get your FREE quote today!!!"
SPAM = f"""{SPAM_LINE}
Limited time offer!!! Buy now and save 90% on car insurance, guaranteed lowest price!!!
{SPAM_LINE}
Best cheap car insurance, cheap car insurance online, best car insurance deals, car insurance cheap!!!
Act now!!! Don't miss out, this exclusive deal ends tonight!!! Click here!!!
{SPAM_LINE}
Call now for your free quote, best cheap car insurance, buy now, limited time offer!!!
"""

# A line-numbering sample: blank lines are skipped but line numbers keep counting.
NUMBERED = "First line here.\n\nThird line here.\n   \nFifth line here."

EMPTY_TEXTS = ("", "  \n ", "\n\n\t\n", "\r\n\r\n")

# Binary-ish: control bytes, a PNG-like header, replacement characters and a stray word or two.
BINARY_ISH = "\x00\x01\x02\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\ufffd\ufffd\x7f\x1b[0m\x08\x0c\x0e\x1f\xff\xfe€‰\x9d"

# All sample texts with visible characters, for tables over "every text".
ALL_TEXTS = {
    "clean": CLEAN,
    "scraped": SCRAPED,
    "spun": SPUN,
    "german": GERMAN,
    "japanese": JAPANESE,
    "spam": SPAM,
    "binary": BINARY_ISH,
}
ENGLISH_TEXTS = {"clean": CLEAN, "scraped": SCRAPED, "spun": SPUN, "spam": SPAM}

# The tiny test model's training articles (tests/conftest.py trains it on these and their variants).
TINY_RELIABLE_SOURCES = tuple(f"rel-a-{i:03d}" for i in range(1, 17))
TINY_UNRELIABLE_IDS = tuple(f"unrel-w-{i:03d}" for i in (1, 2, 3, 9, 10, 11, 17, 18, 19, 24, 25, 26))

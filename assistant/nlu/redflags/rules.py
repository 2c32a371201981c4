"""The red-flag word lists and rules (assistant/nlu/redflags/__init__.py applies them).

A rule is a regular expression over normalised words; near() and then() build the
co-occurrence ones. Add a rule with a test in tests/assistant/nlu/test_red_flags.py.
"""

import re

# Words the rules are written with; a message word one edit (two for long words) from one
# of them, and not itself a common word, is read as that word ("cheast" -> "chest").
KEYWORDS = (
    "chest",
    "pain",
    "pains",
    "crushing",
    "pressure",
    "tightness",
    "breathe",
    "breath",
    "breathing",
    "bleeding",
    "bleed",
    "blood",
    "throat",
    "closing",
    "swelling",
    "swollen",
    "tongue",
    "drooping",
    "droopy",
    "slurred",
    "slurring",
    "speech",
    "stroke",
    "suicide",
    "suicidal",
    "myself",
    "overdose",
    "overdosed",
    "unconscious",
    "unresponsive",
    "seizure",
    "seizures",
    "anaphylaxis",
    "anaphylactic",
    "epipen",
    "numbness",
    "paralysed",
    "paralyzed",
    "collapsed",
    "fainted",
    "choking",
    "gasping",
    "heart",
    "attack",
    "hurts",
    "stop",
)
# Real words that sit one edit from a keyword and must stay themselves.
COMMON = frozenset(
    [
        "best",
        "test",
        "rest",
        "chat",
        "cheat",
        "chess",
        "paint",
        "rain",
        "pan",
        "pin",
        "main",
        "gain",
        "bread",
        "breed",
        "bleeds",
        "heat",
        "hear",
        "heard",
        "hearts",
        "herd",
        "start",
        "stock",
        "stops",
        "step",
        "shop",
        "stoke",
        "strike",
        "strokes",
        "speed",
        "spelling",
        "smelling",
        "selling",
        "through",
        "threat",
        "those",
        "close",
        "clothing",
        "sling",
        "swimming",
        "tone",
        "thought",
        "myth",
        "self",
        "overdue",
        "stroll",
        "attach",
        "attacks",
        "blond",
        "bloom",
        "flood",
        "clock",
        "closing",
        "tongue",
        "swollen",
        "dropping",
        "hurt",
        "hurst",
        "burst",
        "huts",
        "paid",
        "pair",
        "said",
        "crest",
        "cooking",
        "grasping",
        "leading",
        "painted",
        "tainted",
        "brushing",
        "rushing",
        "pleasure",
    ]
)
NEGATIONS = frozenset(
    [
        "no",
        "not",
        "never",
        "without",
        "denies",
        "deny",
        "denied",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "arent",
        "wasnt",
        "werent",
        "havent",
        "hasnt",
        "hadnt",
        "none",
        "nor",
        "neither",
        "zero",
    ]
)
# A negation word followed by one of these is a hedge, not a negation.
HEDGES = (
    "sure",
    "know",
    "certain",
    "idea",
    "think",
    "tell",
    "understand",
    "remember",
    "want to wait",
)
GONE = re.compile(
    r"^\s*(?:is |are |has |have |had )?(?:now |completely |all )?"
    r"(?:gone|went away|go away|resolved|cleared|better|improved|stopped|fine|ok|okay)\b"
    r"|^\s*(?:free|none|nil|negative)\b|^\s*no\s*$"
    r"|^(?: \S+){0,3} as (?:prescribed|directed|usual|normal|instructed)\b"
    r"|^ through (?:my |the |his |her )?nose\b"
)
CLAUSE_BREAK = re.compile(r"[.,;:!?\n]+|\b(?:but|though|although|however|yet)\b", re.IGNORECASE)

CANT = r"(?:cant|cnt|cannot|can not|couldnt|could not|unable to|not able to|struggling to|struggle to|hard to|trouble to)"  # noqa: E501


def near(first: str, second: str, within: int = 3) -> str:
    """Either word set, then the other, with up to `within` words between them."""
    gap = rf"(?: \S+){{0,{within}}} "
    return rf"(?:{first}){gap}(?:{second})|(?:{second}){gap}(?:{first})"


def then(*parts: str, within: int = 4) -> str:
    """The word sets in this order, each up to `within` words after the one before."""
    gap = rf"(?: \S+){{0,{within}}} "
    return gap.join(f"(?:{part})" for part in parts)


# Word sets the co-occurrence rules combine: what lay wording varies most is which words
# stand between the body part and what is wrong with it.
CHEST = r"chest|heart"
CHEST_WRONG = (
    r"pain|pains|painful|hurts?|hurting|aches?|aching|tight|tightness|tightening|pressure|"
    r"crushing|crushed|squeezing|squeezed|heavy|heaviness|stabbing"
)
BREATH = r"breathe|breath|breathing"
BREATH_WRONG = (
    r"cant|cannot|couldnt|unable|hard|harder|struggling|struggle|trouble|difficult|difficulty|"
    r"short|shortness|gasping|barely|hardly|stopped|laboured|labored"
)
FACE = r"face|mouth|smile|lip|lips"
FACE_WRONG = (
    r"drooping|droopy|droops|drooped|sagging|saggy|lopsided|crooked|uneven|dropping|dropped|"
    r"paralysed|paralyzed|numb"
)
AIRWAY = r"throat|tongue|lips|lip|face|mouth|airway"
AIRWAY_WRONG = r"swelling|swelled|closing|closed|tightening"
TOOK = r"took|taken|swallowed|ate|downed"
AMOUNT = r"bunch|lot|lots|loads|handful|handfuls|many|whole|entire|all|bottle|pack|packet|box"
PILLS = (
    r"pills|tablets|meds|medication|medications|medicine|capsules|painkillers|paracetamol|"
    r"tylenol|ibuprofen|aspirin|insulin|doses|sleeping"
)
BLEED = r"bleeding|bleed|bleeds|blood"
BLEED_WRONG = (
    r"pouring|gushing|spurting|everywhere|heavily|profusely|soaked|soaking|pool|wont stop|"
    r"will not stop|cant stop|not stopping|uncontrollably"
)

RULES: dict[str, tuple[str, ...]] = {
    "chest_pain": (
        r"chest pains?",
        r"pains? in (?:my |the )?chest",
        r"chest (?:is |feels |feel )?(?:hurting|hurts|hurt|aching|aches|tight|heavy|crushing)",
        r"(?:tight|tightness in (?:my |the )?|heavy|crushing|squeezing|pressure in (?:my |the )?)chest",  # noqa: E501
        r"chest (?:tightness|pressure|discomfort)",
        r"crushing pain",
        r"(?:elephant|weight|something heavy) (?:sitting |standing )?on (?:my |the )?chest",
        r"chest (?:is )?killing me",
        r"chestpains?",
        near(CHEST, CHEST_WRONG),
        r"heart ?attack",
        r"pain (?:spreading|going|radiating|moving) (?:down|to|into) (?:my |the )?(?:left )?(?:arm|jaw)",  # noqa: E501
    ),
    "breathing": (
        CANT + r" (?:breathe|breath|breathing|catch my breath|get (?:my |a )?breath|get air)",
        r"(?:trouble|difficulty|difficulties|problems?|struggling|hard time) (?:with )?breathing",
        r"short(?:ness)? of breath",
        r"(?:out of|no) breath (?:at rest|sitting|lying)",
        r"not breathing",
        r"stopped breathing",
        r"gasping(?: for (?:air|breath))?",
        r"choking",
        r"(?:lips|face|skin) (?:are |is |turning |going |gone )+blue",
        r"breathing (?:is )?(?:very |really )?(?:hard|difficult|laboured|labored)",
        r"suffocating",
        r"(?:isnt|is not|arent|are not|wasnt) breathing",
        r"out of breath (?:just |while |when )?(?:sitting|lying|resting|at rest|doing nothing)",
        near(BREATH, BREATH_WRONG, within=2),
        r"(?:struggling|fighting|gasping) for (?:breath|air)",
        r"(?:can|could) (?:barely|hardly) (?:breathe|breath|breathing)",
        r"barely breathing",
        r"breathless (?:at rest|sitting|lying|and)",
        r"(?:turning|turned|going|gone|went) (?:blue|grey|gray)",
        r"(?:lips|face|skin|baby|he|she|child) (?:is |are |looks? |look )blue",
    ),
    "stroke": (
        r"face (?:is )?(?:drooping|droopy|dropping|sagging|numb)",
        r"(?:drooping|droopy) (?:face|mouth|eye)",
        r"(?:one|left|right) side of (?:my |his |her |their |the )?face",
        r"face (?:went|gone|has gone|going|is going) (?:numb|droopy|floppy|lopsided)",
        r"(?:lopsided|crooked|uneven) (?:face|smile|mouth)",
        r"(?:cant|can not|cannot) (?:smile|feel (?:my |his |her )?(?:face|arm|leg))",
        r"(?:arm|leg) (?:went|has gone|suddenly went|is suddenly) (?:numb|weak|limp|dead)",
        r"words (?:are |keep )?(?:coming out )?(?:wrong|jumbled|garbled)",
        r"(?:cant|can not|cannot|unable to) (?:move|feel|lift) (?:my |his |her |their )?"
        r"(?:left |right )?(?:arm|leg|side|face|hand)",
        r"sudden(?:ly)? (?:\w+ )?(?:numb|numbness|weakness|weak|paralysis)",
        r"(?:face|facial) numbness",
        r"(?:cant|can not|cannot|unable to) move (?:one|my left|my right|the left|the right) side",
        r"(?:speech|words|talking) (?:is |are )?(?:garbled|jumbled|slurred|confused|weird)",
        r"sudden(?:ly)? (?:\w+ ){0,3}(?:blurry|blurred|lost|double) (?:vision|sight)",
        r"vision (?:is |went )?(?:\w+ )?(?:blurry|blurred|black|double) "
        r"(?:all of a )?sudden(?:ly)?",
        near(FACE, FACE_WRONG),
        r"slurr(?:ed|ing) (?:speech|words|my words)",
        r"speech (?:is )?slurr(?:ed|ing)",
        r"slurr(?:ed|ing)",
        r"(?:cant|can not|cannot|unable to) (?:speak|talk|get words out|lift (?:my |his |her )?arm|move (?:my |his |her )?(?:arm|leg|side))",  # noqa: E501
        r"(?:numb|weak|numbness|weakness|paralysed|paralyzed) (?:on|down) (?:one|the (?:left|right)|my (?:left|right)) side",  # noqa: E501
        r"(?:one|left|right) side (?:of (?:my |the )?body )?(?:is |went |gone |feels )?(?:numb|weak|dead|paralysed|paralyzed)",  # noqa: E501
        r"stroke",
        r"sudden(?:ly)? (?:confused|confusion|blind|cant see|lost (?:my )?vision)",
        r"worst headache",
        r"sudden(?:ly)? (?:severe |bad |terrible |really bad )?headache",
    ),
    "bleeding": (
        r"bleeding (?:that |which |it )?(?:wont|will not|doesnt|does not|isnt|cant|didnt|hasnt|has not) (?:stop|stopping|stopped)",  # noqa: E501
        r"(?:wont|will not|cant|can not|cannot|doesnt|isnt) stop(?:ping)? bleeding",
        r"bleed(?:ing)? (?:heavily|a lot|badly|profusely|everywhere|non ?stop|so much)",
        r"(?:heavy|severe|serious|uncontrolled|massive|lots of|a lot of) (?:bleeding|blood)",
        r"blood (?:everywhere|all over|wont stop|is pouring|pouring|gushing|spurting)",
        r"(?:coughing|cough|vomiting|throwing|puking|spitting) (?:up )?blood",
        r"blood in (?:my )?(?:vomit|sick)",
        r"bleeding out",
        r"(?:massive|huge|heavy|severe) nose ?bleed",
        r"nose ?bleed (?:\S+ ){0,2}(?:wont|will not|doesnt|isnt|cant) stop",
        r"soaked (?:through )?(?:with|in) blood",
        r"(?:so much|too much|lots of|a lot of|loads of|pool of|losing) blood",
        r"blood (?:wont|will not|doesnt|isnt) stop",
        r"bleeding (?:through|all over)",
        r"(?:gushing|spurting|pouring) blood",
        r"(?:wont|will not|cant|can not|cannot|doesnt|isnt) stop (?:the |this |my )?bleeding",
        r"ha?emorrhag\w*",
        near(r"cut|wound|gash", r"gushing|pouring|spurting|squirting", within=4),
        r"(?:vomited|vomiting|threw up|throwing up|puked|coughed|coughing) (?:up )?blood",
        near(BLEED, BLEED_WRONG),
    ),
    "anaphylaxis": (
        r"throat (?:is |feels |feel )?(?:closing|swelling|swollen|tight|tightening|closing up)",
        r"throat (?:\w+ ){1,4}(?:closing|swelling shut|closing up)",
        r"(?:tongue|lips?|face|mouth) (?:is |are |has |have )?(?:swelling|swollen|swelled|puffing) up",  # noqa: E501
        r"(?:tongue|lips?) (?:is |are )?(?:swelling|swollen)",
        r"(?:swollen|swelling) (?:tongue|lips?|throat)",
        r"anaphyla(?:xis|ctic)",
        r"(?:severe|bad|serious|major) allergic reaction",
        r"(?:used|use|needed|need|had to use) (?:my |an |the )?epi ?pen",
        r"(?:cant|can not|cannot|unable to) swallow",
        r"face (?:is )?(?:swelling|swelled|puffing) up",
        near(AIRWAY, AIRWAY_WRONG),
    ),
    "self_harm": (
        r"(?:kill|kil|killing|hurt|hurting|harm|harming|cut|cutting) myself",
        r"(?:cut|slit|slashed|cutting) (?:my|his|her) wrists?",
        r"kms",
        r"end(?:ing)? things",
        r"self ?harm(?:ing)?",
        r"suicid(?:e|al)",
        r"end(?:ing)? (?:my|it|it all|my own) (?:life|all)",
        r"end(?:ing)? it all",
        r"(?:going to|gonna|want to|wanna|plan to|planning to|thinking (?:about|of)|like) "
        r"end(?:ing)? it",
        r"(?:thinking (?:about|of)|plan(?:ning)? to|going to|want to|gonna) (?:take|taking|swallow|"
        r"swallowing) (?:all|a whole|the whole|a bottle|a handful) (?:\S+ ){0,2}"
        r"(?:pills|tablets|meds|medication|medicine|of them)",
        r"hang(?:ing)? myself",
        r"(?:jump|jumping) (?:off|in front)",
        r"(?:dont|do not) want to (?:be here|exist) anymore",
        r"no point (?:in )?(?:living|going on|being alive)",
        r"(?:dont|do not|cant|cannot) see (?:the|any) point(?: in| of)? "
        r"(?:living|life|going on|carrying on|being alive|it all|anything)",
        r"life (?:is not|isnt|aint) worth",
        r"(?:wish|want) (?:i was|i were|to be) dead",
        r"take my (?:own )?life",
        r"(?:dont|do not|no longer) (?:want|wanna|wish) to (?:live|be alive|be here|wake up)",
        r"want to die",
        r"wanna die",
        r"better off dead",
        r"no (?:reason|point) (?:to|in) (?:live|living|go on|going on)",
        r"not worth living",
    ),
    "overdose": (
        r"overdos(?:e|ed|ing)",
        r"took (?:way )?(?:too|to|2) (?:many|much)",
        r"taken (?:way )?(?:too|to|2) (?:many|much)",
        r"swallowed (?:a |the |all (?:of )?(?:my |the )?|a whole |the whole |whole )(?:bottle|pack|packet|box|pills|tablets)",  # noqa: E501
        r"(?:took|taken|swallowed) (?:a |the )?(?:whole|entire|full) (?:bottle|pack|packet|box)",
        r"(?:took|taken|swallowed) all (?:of )?(?:my |the |his |her )?(?:\w+ )?"
        r"(?:pills|tablets|meds|medicine|medication)",
        r"(?:took|taken) (?:a )?(?:double|triple) (?:dose|the dose)",
        then(TOOK, AMOUNT, PILLS, within=3),
        r"(?:took|taken|swallowed|ate|eaten) (?:\d\d+|twenty|thirty|forty|fifty) (?:of )?"
        r"(?:my |his |her |the |their )?(?:\w+ )?(?:pills|tablets|capsules|meds)",
        r"(?:ate|eaten|swallowed|got into) (?:some|a few) (?:of )?(?:my |his |her |the |their )?"
        r"(?:\w+ )?(?:pills|tablets|capsules|meds)",
        r"(?:took|taken|swallowed) (?:\d+|twenty|thirty|fifty|loads of|a handful of|handfuls of) "
        r"(?:of (?:my |the |his |her )?)?"
        r"(?:pills|tablets|capsules|paracetamol|tylenol|painkillers)",
        r"(?:took|taken|swallowed) (?:a |the )?(?:whole|entire|full) (?:pack|packet|box|bottle) of",
        r"(?:swallowed|drank|drunk|ate) (?:some )?(?:bleach|poison|antifreeze|weed killer)",
        r"swallowed (?:a |an |some )?(?:button )?(?:battery|batteries|magnets?)",
        r"(?:alcohol|vodka|wine|beer|drink|drinks|drunk) (?:\S+ ){0,3}(?:and|with) "
        r"(?:took |taken )?(?:\S+ )?(?:pills|tablets|sleeping pills|painkillers)",
    ),
    "unconscious": (
        r"unconscious",
        r"unresponsive",
        r"passed out",
        r"(?:wont|will not|cant|can not|cannot|isnt|not) wak(?:e|ing) (?:him |her |them )?up",
        r"(?:fainted|fainting|collapsed|blacked out|keeled over)",
        r"not responding",
        r"lost consciousness",
        r"(?:going to|about to|gonna|might) (?:pass out|faint|collapse|black out)",
        r"(?:feel|feels|feeling) like (?:i am |im |i m )?(?:passing out|fainting|blacking out)",
        r"out cold",
        r"(?:wont|will not|isnt|not) respond(?:ing)?",
        r"(?:cant|can not|cannot) wake (?:him|her|them|my \w+)",
    ),
    "seizure": (
        r"seizures?",
        r"(?:having|had) a fit",
        r"convuls(?:ing|ions?)",
        r"fitting",
        r"shaking uncontrollably",
    ),
    "severe_distress": (
        r"(?:call|need|send|get) (?:me |us )?(?:an |a )?(?:ambulance|911|999|112|paramedics)",
        r"(?:i think |i feel like )?(?:im|i am) dying(?! (?:for|to|of))",
        r"(?:going|about) to die",
        r"(?:unbearable|excruciating|agonising|agonizing|worst) pain",
        r"pain (?:is )?(?:unbearable|excruciating|agonising|agonizing)",
    ),
}
# Tests, appointments and results that name a symptom word without the symptom.
FALSE_FRIENDS = re.compile(
    r"\b(?:(?:chest|breathing|blood|stroke|seizure|heart|lung|allergy)s? "
    r"(?:x ?rays?|test|tests|scan|scans|results?|appointment|clinic|checks?|check up|checkup|"
    r"exam|specialist|rehab|medicine|medication|meds|tablets?|pills?|class|work|ultrasound|ecg|"
    r"ekg|echo|monitor|levels?|panel|count|donation|draw|work ?up)"
    r"|blood (?:pressure|sugar|thinners?)"
    r"|(?:spray|tablets?|pills?|medicine|medication|meds|prescription|refill|nitro\w*) "
    r"for (?:my |the )?(?:chest pains?|angina|seizures?|breathing|allergies)"
    r"|(?:after|since|from|before) (?:my|his|her|their|the) "
    r"(?:stroke|heart attack|seizure|overdose)"
    r"|(?:had|history of) (?:a |some )?(?:stroke|heart attack|seizure|chest pain)s? (?:\w+ )?"
    r"(?:\w+ )?(?:ago|last (?:year|month|week)|in (?:19|20)\d\d))\b"
)
COMPILED = {
    kind: re.compile(r"\b(?:" + "|".join(patterns) + r")\b") for kind, patterns in RULES.items()
}

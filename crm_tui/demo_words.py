"""Word lists for the demo database: names, products, texts (plain data only)."""

from __future__ import annotations

OWNERS = (
    "Maya Patel",
    "Daniel Okafor",
    "Sofia Lindqvist",
    "James Carter",
    "Aiko Tanaka",
    "Lucas Moreau",
    "Priya Raman",
    "Tom Becker",
)
# Relative share of customers each rep owns (top performers carry more accounts).
OWNER_WEIGHTS = (18, 15, 14, 13, 12, 11, 10, 7)

FIRST_NAMES = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo",
    "Isabella", "Ethan", "Amelia", "Leo", "Harper", "Oliver", "Chloe", "Henry", "Zoe", "Samuel",
    "Hannah", "David", "Nora", "Julian", "Grace", "Omar", "Leila", "Ravi", "Ananya", "Kenji",
    "Yuki", "Mei", "Wei", "Chen", "Fatima", "Ahmed", "Ines", "Pablo", "Lucia", "Marco",
    "Giulia", "Anna", "Jonas", "Lena", "Finn", "Freya", "Erik", "Astrid", "Kofi", "Amara",
    "Tariq", "Sara", "Diego", "Camila", "Ivan", "Olga", "Piotr", "Zofia", "Aisha", "Musa",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Wilson", "Anderson", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Walker", "Young", "Hall", "Allen", "King", "Wright", "Scott",
    "Nguyen", "Kim", "Park", "Chen", "Wang", "Li", "Zhang", "Singh", "Kumar", "Shah", "Sato",
    "Suzuki", "Tanaka", "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Rossi", "Russo",
    "Bianchi", "Dubois", "Laurent", "Bernard", "Silva", "Santos", "Costa", "Novak", "Kowalski",
    "Nowak", "Jensen", "Hansen", "Nielsen", "Larsen", "Berg", "Haddad", "Mensah", "Okoye",
    "Adeyemi", "O'Brien", "Murphy", "Kelly", "Fernández", "López", "Ivanova", "Petrov",
)

NAME_STARTS = (
    "North", "Blue", "Silver", "Iron", "Bright", "Summit", "Cedar", "Harbor", "Pine", "Granite",
    "Crescent", "Red", "Evergreen", "Lake", "Stone", "Maple", "River", "Oak", "Sun", "Falcon",
    "Eagle", "Polar", "Coastal", "Prairie", "Golden", "Clear", "Swift", "Green", "High", "West",
    "East", "South", "Copper", "Amber", "Willow", "Aspen", "Birch", "Storm", "True", "Star",
)
NAME_ENDS = (
    "wind", "peak", "field", "bridge", "gate", "line", "stone", "point", "crest", "ridge",
    "wave", "light", "haven", "brook", "wood", "path", "way", "view", "vale", "spring",
    "mark", "ford", "port", "side", "rock", "dale", "shore", "well", "leaf", "bay",
)
STANDALONE_NAMES = (
    "Atlas", "Vertex", "Nova", "Apex", "Orion", "Zenith", "Helix", "Lumen", "Quantum", "Vantage",
    "Nimbus", "Meridian", "Pinnacle", "Catalyst", "Keystone", "Horizon", "Beacon", "Sterling",
    "Cobalt", "Aurora", "Vector", "Fusion", "Kinetic", "Sequoia", "Paragon", "Tandem",
)
LEGAL_SUFFIXES = ("", "", "", "Inc.", "LLC", "Ltd", "GmbH", "Co.", "Group", "AG", "S.A.", "B.V.")

# industry → words that fit it in a company name
INDUSTRIES = {
    "Software": ("Software", "Systems", "Labs", "Digital", "Technologies", "Cloud"),
    "Logistics": ("Logistics", "Freight", "Transport", "Shipping", "Supply"),
    "Manufacturing": ("Manufacturing", "Industries", "Machining", "Fabrication", "Components"),
    "Healthcare": ("Health", "Medical", "Clinics", "Care", "Diagnostics"),
    "Retail": ("Retail", "Stores", "Outfitters", "Market", "Trading"),
    "Finance": ("Capital", "Financial", "Partners", "Advisors", "Insurance"),
    "Energy": ("Energy", "Power", "Solar", "Utilities", "Renewables"),
    "Education": ("Academy", "Learning", "Institute", "Education"),
    "Construction": ("Construction", "Builders", "Engineering", "Contractors"),
    "Food & Beverage": ("Foods", "Bakery", "Brewing", "Coffee", "Farms"),
    "Media": ("Media", "Studios", "Publishing", "Creative"),
    "Hospitality": ("Hotels", "Resorts", "Hospitality", "Catering"),
}
INDUSTRY_NAMES = tuple(INDUSTRIES)

TLDS = (".com", ".com", ".com", ".io", ".co", ".net", ".de", ".co.uk", ".fr", ".nl")
COMPANY_MAILBOXES = ("info", "sales", "hello", "contact", "office", "purchasing")
PERSONAL_MAIL_DOMAINS = ("gmail.com", "outlook.com", "proton.me", "icloud.com", "yahoo.com")
AREA_CODES = ("212", "312", "415", "617", "206", "512", "303", "404", "305", "646", "213", "702")

TAGS = (
    "enterprise", "smb", "priority", "partner", "renewal", "upsell", "newsletter",
    "referral", "key-account", "eu", "us", "apac", "public-sector", "startup",
)
SOURCES = ("Website", "Referral", "Trade show", "Cold call", "LinkedIn", "Partner", "Webinar", "Email campaign")
SOURCE_WEIGHTS = (26, 18, 10, 9, 14, 8, 8, 7)

TITLES = (
    "CEO", "CFO", "CTO", "Head of Operations", "IT Manager", "Procurement Lead", "Office Manager",
    "VP Sales", "Operations Director", "Purchasing Manager", "Finance Manager", "Project Manager",
    "Managing Director", "Head of IT", "Facilities Manager",
)

# name, unit price in cents, typical quantity range (min, max)
PRODUCTS = (
    ("Cloud CRM seat (annual)", 48000, (3, 120)),
    ("Analytics add-on (annual)", 120000, (1, 4)),
    ("Onboarding package", 250000, (1, 1)),
    ("Premium support (annual)", 360000, (1, 2)),
    ("Data migration service", 480000, (1, 1)),
    ("Integration connector", 95000, (1, 5)),
    ("Training day (on site)", 180000, (1, 6)),
    ("Barcode scanner X200", 34900, (2, 60)),
    ("Thermal label printer", 42900, (1, 25)),
    ("POS terminal T5", 89900, (1, 30)),
    ("Warehouse sensor kit", 145000, (1, 15)),
    ("Consulting hour", 18000, (4, 80)),
)
DISCOUNTS = (0, 0, 0, 0, 5, 5, 10, 15, 20)  # percent off the list price on a deal line

DEAL_FLAVOURS = ("new business", "expansion", "renewal", "pilot", "upgrade", "rollout", "replacement")

LOST_REASONS = (
    "Price too high",
    "Chose a competitor",
    "No budget this year",
    "Went silent / no decision",
    "Timing: revisit next year",
    "Missing feature",
    "Built it in-house",
    "Champion left the company",
)
LOST_REASON_WEIGHTS = (24, 22, 14, 16, 9, 7, 4, 4)

TASK_SUBJECTS = {
    "call": (
        "Follow-up call with {contact}",
        "Call {contact} about the {product} quote",
        "Check in with {contact} on next steps",
        "Renewal call with {contact}",
        "Intro call with {customer}",
    ),
    "email": (
        "Send pricing for {product} to {contact}",
        "Email case study to {contact}",
        "Send contract draft to {customer}",
        "Share onboarding plan with {contact}",
        "Reply to {contact} about delivery dates",
    ),
    "meeting": (
        "Product demo for {customer}",
        "On-site visit at {customer}",
        "Quarterly review with {contact}",
        "Kick-off meeting with {customer}",
    ),
    "todo": (
        "Prepare quote for {customer}",
        "Check credit terms for {customer}",
        "Update account plan for {customer}",
        "Ask {contact} for a referral",
        "Log requirements from {contact}",
    ),
}
TASK_KINDS = ("call", "email", "meeting", "todo")
TASK_KIND_WEIGHTS = (35, 30, 15, 20)
TASK_NOTES = (
    "",
    "",
    "",
    "Prefers mornings.",
    "Bring the updated price list.",
    "Ask about their Q3 budget.",
    "Mention the annual discount.",
    "Loop in their IT lead.",
)

NOTE_TEXTS = (
    "Spoke with {contact}: they are comparing us with two other vendors.",
    "{contact} asked for a quote on {qty} × {product}.",
    "Demo went well; {contact} wants to involve finance next week.",
    "Budget confirmed for this quarter, decision expected within a month.",
    "{contact} is on holiday until the 15th; follow up after.",
    "Sent the case study from a similar {industry} customer.",
    "They had delivery issues with their current supplier.",
    "Legal is reviewing the contract; no blockers so far.",
    "{contact} mentioned a possible expansion to a second site.",
    "Asked for references in {industry}; sent two contacts.",
    "Price is the main concern; offered a multi-year discount.",
    "Met at the trade show; interested in {product}.",
    "Invoice questions resolved with accounts payable.",
    "New decision maker: {contact} took over purchasing.",
)

"""Word lists the district generator draws people, schools and the district from."""

GIVEN_NAMES = (
    "Aaliyah", "Aarav", "Abigail", "Adrian", "Aiden", "Alejandro", "Alexander", "Amara", "Amelia", "Ana",
    "Andre", "Aria", "Ava", "Benjamin", "Brooklyn", "Caleb", "Camila", "Carlos", "Charlotte", "Chloe",
    "Daniel", "David", "Diego", "Dylan", "Eleanor", "Elena", "Eli", "Elijah", "Ella", "Emily", "Emma",
    "Ethan", "Evelyn", "Fatima", "Gabriel", "Grace", "Hana", "Hannah", "Harper", "Henry", "Isabella",
    "Isaiah", "Jack", "Jackson", "Jacob", "James", "Jayden", "Jasmine", "Jose", "Joshua", "Julian",
    "Kai", "Kayla", "Layla", "Leah", "Leo", "Liam", "Lily", "Logan", "Lucas", "Lucy", "Luis", "Madison",
    "Malik", "Maria", "Mason", "Mateo", "Maya", "Mia", "Michael", "Mohammed", "Naomi", "Nathan", "Noah",
    "Nora", "Oliver", "Olivia", "Omar", "Priya", "Riley", "Samuel", "Santiago", "Sarah", "Sebastian",
    "Sofia", "Sophia", "Stella", "Theo", "Valentina", "William", "Wyatt", "Xavier", "Yusuf", "Zara", "Zoe",
)

FAMILY_NAMES = (
    "Adams", "Ahmed", "Allen", "Alvarez", "Anderson", "Baker", "Bennett", "Brooks", "Brown", "Campbell",
    "Carter", "Castillo", "Chen", "Clark", "Collins", "Cruz", "Davis", "Diaz", "Edwards", "Evans", "Flores",
    "Foster", "Garcia", "Gomez", "Gonzalez", "Green", "Gupta", "Hall", "Harris", "Hernandez", "Hill", "Hughes",
    "Jackson", "James", "Jenkins", "Johnson", "Jones", "Kelly", "Kim", "King", "Lee", "Lewis", "Lopez",
    "Martin", "Martinez", "Mendoza", "Miller", "Mitchell", "Moore", "Morales", "Morgan", "Murphy", "Nguyen",
    "Nelson", "O'Brien", "Ortiz", "Parker", "Patel", "Perez", "Phillips", "Ramirez", "Reed", "Reyes",
    "Rivera", "Roberts", "Robinson", "Rodriguez", "Rogers", "Ross", "Sanchez", "Scott", "Shah", "Singh",
    "Smith", "Stewart", "Sullivan", "Taylor", "Thomas", "Thompson", "Torres", "Tran", "Turner", "Walker",
    "Wang", "Ward", "Watson", "White", "Williams", "Wilson", "Wright", "Wu", "Young", "Zhang",
)

MIDDLE_INITIALS = "ABCDEFGHJKLMNPRSTW"

# Schools are named after people and places, as most US districts do.
SCHOOL_NAMESAKES = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Franklin", "Madison", "Kennedy", "Adams", "Monroe",
    "Hamilton", "Jackson", "Garfield", "Grant", "Hawthorne", "Emerson", "Whitman", "Parks", "Tubman",
    "Chavez", "Douglass", "Edison", "Carver", "Sequoia", "Cedar Ridge", "Maple Grove", "Oak Hill",
    "Riverside", "Lakeview", "Pine Valley", "Meadowbrook", "Willow Creek", "Sunnyside", "Highland",
    "Eastwood", "Westfield", "Northgate", "Southview", "Brookside", "Fairview", "Glenwood",
)

DISTRICT_PLACES = (
    "Riverside", "Cedar Falls", "Maple Valley", "Lakewood", "Fairmont", "Springfield", "Brookhaven",
    "Clearwater", "Pine Bluff", "Oakdale", "Westbrook", "Silver Lake",
)

"""Real Welsh geography for the synthetic demo: board areas, local authorities, health boards,
police forces. Names in English and Welsh as the bodies themselves use them."""

from __future__ import annotations

# code, English, Welsh
BOARD_AREAS = [
    ("cardiff-vale", "Cardiff and Vale", "Caerdydd a'r Fro"),
    ("cwm-taf-morgannwg", "Cwm Taf Morgannwg", "Cwm Taf Morgannwg"),
    ("gwent", "Gwent", "Gwent"),
    ("mid-west-wales", "Mid and West Wales", "Canolbarth a Gorllewin Cymru"),
    ("north-wales", "North Wales", "Gogledd Cymru"),
    ("west-glamorgan", "West Glamorgan", "Gorllewin Morgannwg"),
]

# code, English, Welsh, board area, health board code, police force code, postcode areas, towns
LOCAL_AUTHORITIES = [
    ("cardiff", "Cardiff", "Caerdydd", "cardiff-vale", "cav", "south-wales", ["CF10", "CF11", "CF14", "CF23", "CF24", "CF3", "CF5"], ["Cardiff", "Llanrumney", "Ely", "Splott", "Llanishen"]),
    ("vale-of-glamorgan", "Vale of Glamorgan", "Bro Morgannwg", "cardiff-vale", "cav", "south-wales", ["CF62", "CF63", "CF64", "CF71"], ["Barry", "Penarth", "Cowbridge", "Llantwit Major"]),
    ("bridgend", "Bridgend", "Pen-y-bont ar Ogwr", "cwm-taf-morgannwg", "ctm", "south-wales", ["CF31", "CF32", "CF33", "CF35"], ["Bridgend", "Maesteg", "Pencoed", "Porthcawl"]),
    ("merthyr-tydfil", "Merthyr Tydfil", "Merthyr Tudful", "cwm-taf-morgannwg", "ctm", "south-wales", ["CF47", "CF48"], ["Merthyr Tydfil", "Dowlais", "Treharris"]),
    ("rhondda-cynon-taf", "Rhondda Cynon Taf", "Rhondda Cynon Taf", "cwm-taf-morgannwg", "ctm", "south-wales", ["CF37", "CF38", "CF39", "CF40", "CF43", "CF44", "CF45"], ["Pontypridd", "Aberdare", "Tonypandy", "Treorchy", "Mountain Ash"]),
    ("blaenau-gwent", "Blaenau Gwent", "Blaenau Gwent", "gwent", "abuhb", "gwent", ["NP13", "NP22", "NP23"], ["Ebbw Vale", "Tredegar", "Abertillery"]),
    ("caerphilly", "Caerphilly", "Caerffili", "gwent", "abuhb", "gwent", ["CF81", "CF82", "CF83", "NP12"], ["Caerphilly", "Bargoed", "Blackwood", "Risca"]),
    ("monmouthshire", "Monmouthshire", "Sir Fynwy", "gwent", "abuhb", "gwent", ["NP15", "NP16", "NP25", "NP26", "NP7"], ["Monmouth", "Abergavenny", "Chepstow", "Caldicot"]),
    ("newport", "Newport", "Casnewydd", "gwent", "abuhb", "gwent", ["NP10", "NP18", "NP19", "NP20"], ["Newport", "Caerleon", "Bettws", "Pillgwenlly"]),
    ("torfaen", "Torfaen", "Torfaen", "gwent", "abuhb", "gwent", ["NP4", "NP44"], ["Cwmbran", "Pontypool", "Blaenavon"]),
    ("carmarthenshire", "Carmarthenshire", "Sir Gaerfyrddin", "mid-west-wales", "hdd", "dyfed-powys", ["SA14", "SA15", "SA18", "SA31", "SA33"], ["Carmarthen", "Llanelli", "Ammanford", "Llandeilo"]),
    ("ceredigion", "Ceredigion", "Ceredigion", "mid-west-wales", "hdd", "dyfed-powys", ["SY23", "SA43", "SA44", "SA48"], ["Aberystwyth", "Cardigan", "Lampeter", "Aberaeron"]),
    ("pembrokeshire", "Pembrokeshire", "Sir Benfro", "mid-west-wales", "hdd", "dyfed-powys", ["SA61", "SA62", "SA65", "SA72", "SA73"], ["Haverfordwest", "Pembroke Dock", "Milford Haven", "Fishguard"]),
    ("powys", "Powys", "Powys", "mid-west-wales", "pthb", "dyfed-powys", ["LD1", "LD3", "SY16", "SY21", "NP8"], ["Newtown", "Brecon", "Llandrindod Wells", "Welshpool"]),
    ("anglesey", "Isle of Anglesey", "Ynys Môn", "north-wales", "bcuhb", "north-wales", ["LL65", "LL77", "LL58", "LL74"], ["Holyhead", "Llangefni", "Amlwch", "Beaumaris"]),
    ("conwy", "Conwy", "Conwy", "north-wales", "bcuhb", "north-wales", ["LL22", "LL28", "LL29", "LL30", "LL32"], ["Colwyn Bay", "Llandudno", "Abergele", "Conwy"]),
    ("denbighshire", "Denbighshire", "Sir Ddinbych", "north-wales", "bcuhb", "north-wales", ["LL15", "LL16", "LL18", "LL20"], ["Rhyl", "Denbigh", "Ruthin", "Prestatyn"]),
    ("flintshire", "Flintshire", "Sir y Fflint", "north-wales", "bcuhb", "north-wales", ["CH5", "CH6", "CH7", "CH8"], ["Mold", "Flint", "Buckley", "Holywell", "Connah's Quay"]),
    ("gwynedd", "Gwynedd", "Gwynedd", "north-wales", "bcuhb", "north-wales", ["LL53", "LL54", "LL55", "LL57", "LL41"], ["Bangor", "Caernarfon", "Pwllheli", "Blaenau Ffestiniog"]),
    ("wrexham", "Wrexham", "Wrecsam", "north-wales", "bcuhb", "north-wales", ["LL11", "LL12", "LL13", "LL14"], ["Wrexham", "Rhosllanerchrugog", "Gresford", "Chirk"]),
    ("neath-port-talbot", "Neath Port Talbot", "Castell-nedd Port Talbot", "west-glamorgan", "sbuhb", "south-wales", ["SA10", "SA11", "SA12", "SA13"], ["Neath", "Port Talbot", "Briton Ferry", "Glynneath"]),
    ("swansea", "Swansea", "Abertawe", "west-glamorgan", "sbuhb", "south-wales", ["SA1", "SA2", "SA4", "SA5", "SA6"], ["Swansea", "Morriston", "Gorseinon", "Townhill"]),
]

# code, English, Welsh, lead board area
HEALTH_BOARDS = [
    ("cav", "Cardiff and Vale University Health Board", "Bwrdd Iechyd Prifysgol Caerdydd a'r Fro", "cardiff-vale"),
    ("ctm", "Cwm Taf Morgannwg University Health Board", "Bwrdd Iechyd Prifysgol Cwm Taf Morgannwg", "cwm-taf-morgannwg"),
    ("abuhb", "Aneurin Bevan University Health Board", "Bwrdd Iechyd Prifysgol Aneurin Bevan", "gwent"),
    ("hdd", "Hywel Dda University Health Board", "Bwrdd Iechyd Prifysgol Hywel Dda", "mid-west-wales"),
    ("pthb", "Powys Teaching Health Board", "Bwrdd Iechyd Addysgu Powys", "mid-west-wales"),
    ("bcuhb", "Betsi Cadwaladr University Health Board", "Bwrdd Iechyd Prifysgol Betsi Cadwaladr", "north-wales"),
    ("sbuhb", "Swansea Bay University Health Board", "Bwrdd Iechyd Prifysgol Bae Abertawe", "west-glamorgan"),
]

# Health board services: kind, English suffix, Welsh prefix
HEALTH_SERVICES = [
    ("midwifery", "Midwifery Service", "Gwasanaeth Bydwreigiaeth"),
    ("health_visiting", "Health Visiting Service", "Gwasanaeth Ymwelwyr Iechyd"),
    ("school_nursing", "School Nursing Service", "Gwasanaeth Nyrsio Ysgol"),
    ("emergency_department", "Emergency Department", "Adran Achosion Brys"),
    ("hospital", "Children's Outpatient Services", "Gwasanaethau Cleifion Allanol Plant"),
    ("camhs", "Child and Adolescent Mental Health Service", "Gwasanaeth Iechyd Meddwl Plant a Phobl Ifanc"),
    ("adult_mental_health", "Adult Mental Health Service", "Gwasanaeth Iechyd Meddwl Oedolion"),
    ("substance_misuse", "Substance Misuse Service", "Gwasanaeth Camddefnyddio Sylweddau"),
]

# code, English, Welsh, lead board area
POLICE_FORCES = [
    ("south-wales", "South Wales Police", "Heddlu De Cymru", "cardiff-vale"),
    ("gwent", "Gwent Police", "Heddlu Gwent", "gwent"),
    ("dyfed-powys", "Dyfed-Powys Police", "Heddlu Dyfed-Powys", "mid-west-wales"),
    ("north-wales", "North Wales Police", "Heddlu Gogledd Cymru", "north-wales"),
]

# Fictional third-sector organisations (all-Wales).
THIRD_SECTOR = [
    ("llwybr", "Llwybr Family Support", "Cymorth i Deuluoedd Llwybr"),
    ("hafan-da", "Hafan Domestic Abuse Service", "Gwasanaeth Cam-drin Domestig Hafan"),
]

STREETS = [
    "Heol y Parc", "Church Street", "Stryd Fawr", "High Street", "Heol Newydd", "Station Road",
    "Ffordd y Brenin", "Victoria Road", "Maes y Dre", "Bryn Road", "Heol y Felin", "Chapel Street",
    "Clos y Coed", "Park View", "Lôn Isaf", "Mill Lane", "Stryd y Bont", "Woodland Terrace",
    "Rhodfa'r Môr", "Hillside Crescent", "Heol Llan", "Railway Terrace", "Cwrt yr Ysgol", "Glan yr Afon",
]

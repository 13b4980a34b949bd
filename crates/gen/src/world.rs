//! The fictional company's world: places, networks, devices and apps.

/// A city with coordinates and its UTC offset (standard time; good enough for working
/// hours).
#[derive(Debug, Clone, Copy)]
pub(crate) struct City {
    pub name: &'static str,
    pub state: &'static str,
    pub country: &'static str,
    pub postal: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub utc_offset_h: i64,
}

const fn city(
    name: &'static str,
    state: &'static str,
    country: &'static str,
    postal: &'static str,
    lat: f64,
    lon: f64,
    utc_offset_h: i64,
) -> City {
    City {
        name,
        state,
        country,
        postal,
        lat,
        lon,
        utc_offset_h,
    }
}

/// Where employees live (offices and remote staff).
pub(crate) const HOME_CITIES: &[City] = &[
    city(
        "San Francisco",
        "California",
        "United States",
        "94105",
        37.7852,
        -122.3874,
        -7,
    ),
    city(
        "San Francisco",
        "California",
        "United States",
        "94110",
        37.7485,
        -122.4184,
        -7,
    ),
    city(
        "Oakland",
        "California",
        "United States",
        "94612",
        37.8044,
        -122.2712,
        -7,
    ),
    city(
        "New York",
        "New York",
        "United States",
        "10001",
        40.7506,
        -73.9972,
        -4,
    ),
    city(
        "Brooklyn",
        "New York",
        "United States",
        "11201",
        40.6939,
        -73.9901,
        -4,
    ),
    city(
        "Denver",
        "Colorado",
        "United States",
        "80202",
        39.7525,
        -104.9995,
        -6,
    ),
    city(
        "Austin",
        "Texas",
        "United States",
        "78701",
        30.2711,
        -97.7437,
        -5,
    ),
    city(
        "Seattle",
        "Washington",
        "United States",
        "98101",
        47.6101,
        -122.3344,
        -7,
    ),
    city(
        "London",
        "England",
        "United Kingdom",
        "EC1A",
        51.5164,
        -0.0930,
        1,
    ),
    city("Dublin", "Leinster", "Ireland", "D02", 53.3382, -6.2591, 1),
];

pub(crate) const NEW_YORK: City = city(
    "New York",
    "New York",
    "United States",
    "10036",
    40.7590,
    -73.9845,
    -4,
);
pub(crate) const SACRAMENTO: City = city(
    "Sacramento",
    "California",
    "United States",
    "95814",
    38.5816,
    -121.4944,
    -7,
);
pub(crate) const ASHBURN: City = city(
    "Ashburn",
    "Virginia",
    "United States",
    "20147",
    39.0438,
    -77.4874,
    -4,
);
pub(crate) const AMSTERDAM: City = city(
    "Amsterdam",
    "North Holland",
    "Netherlands",
    "1012",
    52.3740,
    4.8897,
    2,
);

/// A network: ASN, organisation, ISP, domain and a /16 to draw addresses from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Net {
    pub asn: i64,
    pub org: &'static str,
    pub isp: &'static str,
    pub domain: &'static str,
    pub prefix: [u8; 2],
}

const fn net(
    asn: i64,
    org: &'static str,
    isp: &'static str,
    domain: &'static str,
    prefix: [u8; 2],
) -> Net {
    Net {
        asn,
        org,
        isp,
        domain,
        prefix,
    }
}

/// Residential ISPs by country.
pub(crate) fn home_nets(country: &str) -> &'static [Net] {
    const US: &[Net] = &[
        net(
            7922,
            "comcast",
            "comcast cable communications  llc",
            "comcast.net",
            [73, 158],
        ),
        net(701, "verizon", "verizon business", "verizon.net", [71, 253]),
        net(
            20115,
            "charter",
            "charter communications inc",
            "spectrum.com",
            [76, 176],
        ),
        net(7018, "at&t", "at&t services  inc.", "att.net", [107, 77]),
    ];
    const GB: &[Net] = &[
        net(
            2856,
            "bt",
            "british telecommunications plc",
            "bt.com",
            [86, 150],
        ),
        net(
            5089,
            "virgin media",
            "virgin media limited",
            "virginmedia.com",
            [82, 22],
        ),
    ];
    const IE: &[Net] = &[net(
        6830,
        "liberty global",
        "virgin media ireland limited",
        "virginmedia.ie",
        [89, 100],
    )];
    match country {
        "United Kingdom" => GB,
        "Ireland" => IE,
        _ => US,
    }
}

/// Mobile carrier (geolocation of its addresses jitters between nearby cities).
pub(crate) const CARRIER: Net = net(
    21928,
    "t-mobile",
    "t-mobile usa  inc.",
    "t-mobile.com",
    [172, 58],
);
/// Hotel Wi-Fi in New York.
pub(crate) const HOTEL: Net = net(
    6128,
    "optimum",
    "cablevision systems corp.",
    "optonline.net",
    [24, 44],
);
/// The corporate VPN egress (allow-listed in midgame.toml: 198.51.100.0/24).
pub(crate) const CORP_EGRESS: Net = net(64500, "acme corp", "acme corp", "acme.test", [198, 51]);
/// The attacker's hosting provider.
pub(crate) const HOSTING: Net = net(
    14061,
    "digitalocean",
    "digitalocean  llc",
    "digitalocean.com",
    [164, 92],
);

/// A browser on a machine.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Agent {
    pub raw: &'static str,
    pub os: &'static str,
    pub browser: &'static str,
}

pub(crate) const LAPTOP_AGENTS: &[Agent] = &[
    Agent {
        raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/103.0.5060.134 Safari/537.36",
        os: "Mac OS X",
        browser: "CHROME",
    },
    Agent {
        raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6 Safari/605.1.15",
        os: "Mac OS X",
        browser: "SAFARI",
    },
    Agent {
        raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/103.0.5060.134 Safari/537.36 Edg/103.0.1264.77",
        os: "Windows 10",
        browser: "EDGE",
    },
    Agent {
        raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:103.0) Gecko/20100101 Firefox/103.0",
        os: "Mac OS X",
        browser: "FIREFOX",
    },
];

pub(crate) const NEW_LAPTOP_AGENT: Agent = Agent {
    raw: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/104.0.5112.79 Safari/537.36",
    os: "Mac OS X",
    browser: "CHROME",
};

pub(crate) const PHONE_AGENT: Agent = Agent {
    raw: "Mozilla/5.0 (iPhone; CPU iPhone OS 15_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.6 Mobile/15E148 Safari/604.1",
    os: "iOS",
    browser: "SAFARI",
};

pub(crate) const ATTACKER_AGENT: Agent = Agent {
    raw: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/104.0.0.0 Safari/537.36",
    os: "Windows 10",
    browser: "CHROME",
};

/// SSO apps: (display name, app instance id, whether only support staff use it).
pub(crate) const APPS: &[(&str, &str, bool)] = &[
    ("Slack", "0oa1slack0000000000", false),
    ("Google Workspace", "0oa1gsuite000000000", false),
    ("Zoom", "0oa1zoom00000000000", false),
    ("GitHub", "0oa1github000000000", false),
    ("Jira", "0oa1jira00000000000", false),
    ("Salesforce", "0oa1sfdc00000000000", false),
    ("Support Console", "0oa1support00000000", true),
    ("Zendesk", "0oa1zendesk0000000", true),
];

pub(crate) const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dan", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe",
    "amir", "bea", "chen", "dmitri", "esther", "femi", "gita", "hana", "ines",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "lee", "smith", "garcia", "okafor", "novak", "tanaka", "silva", "murphy", "kowalski", "haddad",
    "jensen", "rossi",
];

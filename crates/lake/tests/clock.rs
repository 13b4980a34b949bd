//! Device clocks in a named zone through ingest, on the two switch nights of 2023 in
//! Berlin: the hour skipped in spring and the hour lived twice in autumn, read in file
//! order across chunk boundaries (a small chunk size puts one inside the doubled hour).

use arrow::array::AsArray;
use midgame_lake::{IngestOptions, Lake};
use midgame_sources::time::DeviceClock;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn line(stamp: &str, user: &str) -> String {
    format!(
        "{stamp} vpn01 %ASA-6-113039: Group <Staff> User <{user}> IP <203.0.113.5> AnyConnect parent session started.\n"
    )
}

fn times(lake: &Lake) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in lake.data_files("auth").unwrap() {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for b in r {
            let b = b.unwrap();
            let t = b
                .column_by_name("time_ms")
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>()
                .clone();
            let u = b.column_by_name("user").unwrap().as_string::<i32>().clone();
            for i in 0..b.num_rows() {
                let at = chrono::DateTime::from_timestamp_millis(t.value(i)).unwrap();
                out.push((
                    u.value(i).to_owned(),
                    at.format("%Y-%m-%d %H:%M:%S").to_string(),
                ));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

#[test]
fn both_switch_nights_in_berlin_read_in_order() {
    let dir = tempfile::tempdir().unwrap();
    // Local clock readings of a VPN concentrator in Berlin, in the order it logged them.
    let spring = [
        ("Mar 26 2023 01:59:00", "s1"), // CET
        ("Mar 26 2023 03:00:30", "s2"), // CEST: 02:00-02:59 never happened
    ];
    let autumn = [
        ("Oct 29 2023 01:50:00", "a1"), // CEST
        ("Oct 29 2023 02:10:00", "a2"), // CEST, the first 02:10
        ("Oct 29 2023 02:50:00", "a3"), // CEST
        ("Oct 29 2023 02:05:00", "a4"), // CET: the clock went back at 03:00 CEST
        ("Oct 29 2023 02:40:00", "a5"), // CET
        ("Oct 29 2023 03:10:00", "a6"), // CET
    ];
    let text: String = spring
        .iter()
        .chain(&autumn)
        .map(|(t, u)| line(t, u))
        .collect();
    let file = dir.path().join("asa-2023.log");
    std::fs::write(&file, text).unwrap();
    let lake = Lake::open(&dir.path().join("lake")).unwrap();
    let opts = IngestOptions {
        clock: DeviceClock::parse("Europe/Berlin").unwrap(),
        // About two lines a chunk: the doubled hour spans chunks.
        chunk_bytes: 200,
        ..IngestOptions::default()
    };
    let r = lake.ingest_file(&file, &opts, &|_| {}).unwrap();
    assert_eq!((r.auth_rows, r.quarantined), (8, 0));
    let want = [
        ("s1", "2023-03-26 00:59:00"),
        ("s2", "2023-03-26 01:00:30"),
        ("a1", "2023-10-28 23:50:00"),
        ("a2", "2023-10-29 00:10:00"),
        ("a3", "2023-10-29 00:50:00"),
        ("a4", "2023-10-29 01:05:00"),
        ("a5", "2023-10-29 01:40:00"),
        ("a6", "2023-10-29 02:10:00"),
    ];
    let got = times(&lake);
    let got: Vec<(&str, &str)> = got.iter().map(|(u, t)| (u.as_str(), t.as_str())).collect();
    assert_eq!(got, want, "UTC, in the order the device lived them");
}

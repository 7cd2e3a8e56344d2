//! Device enumeration against a real audio server: the null sinks are listed, with ids
//! that are the same in every listing and survive a round trip through a string.

mod common;

use common::{NullSink, require_pulse};
use salon_audio_io::{DeviceId, Direction, list_devices};

#[test]
fn enumeration_lists_the_null_sinks_with_stable_ids() {
    require_pulse();
    let sink = NullSink::load(&format!("salon_enum_{}", std::process::id()));
    let monitor = format!("{}.monitor", sink.name);

    let first = list_devices().expect("list devices");
    let second = list_devices().expect("list devices again");
    let ids = |list: &[salon_audio_io::DeviceInfo]| {
        let mut ids: Vec<(Direction, String)> = list
            .iter()
            .map(|d| (d.direction, d.id.to_string()))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&first),
        ids(&second),
        "ids changed between two listings"
    );

    let find = |name: &str, direction: Direction| {
        first
            .iter()
            .find(|d| d.id.name() == name && d.direction == direction)
            .unwrap_or_else(|| panic!("{name} ({direction}) not listed in {first:#?}"))
    };
    let output = find(&sink.name, Direction::Output);
    let input = find(&monitor, Direction::Input);
    assert!(!output.is_default && !input.is_default);
    assert!(!output.name.is_empty());
    let native = output.default_config.expect("the sink's native format");
    assert_eq!(native.sample_rate, 48_000);

    // One default per direction, and it is a null sink too (the one xtask made default).
    for direction in [Direction::Input, Direction::Output] {
        let defaults: Vec<_> = first
            .iter()
            .filter(|d| d.direction == direction && d.is_default)
            .collect();
        assert_eq!(defaults.len(), 1, "{direction} defaults: {defaults:#?}");
    }

    // Ids are what settings store: they print and parse back.
    for device in &first {
        let text = device.id.to_string();
        assert_eq!(text.parse::<DeviceId>().unwrap(), device.id, "{text}");
        assert!(
            text.starts_with(&format!("{}:", device.id.host())),
            "{text}"
        );
    }
    assert!("no colon".parse::<DeviceId>().is_err());
}

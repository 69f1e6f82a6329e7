//! What the benches and the support binaries of `openai-compatible-benches` share.

pub mod stub;

/// The recorded server responses with this extension (`json` or `sse`), sorted by name,
/// from the library's `tests/data/captures`.
pub fn captures(extension: &str) -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/captures");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/data/captures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == extension))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).expect("a capture"))
        .collect()
}

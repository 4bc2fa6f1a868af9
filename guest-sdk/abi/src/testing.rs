//! Inputs for testing a scanner against a plain, byte-at-a-time definition of what it should
//! find: the scanners here and the built-in transforms' own block scanners use them.

/// `count` pseudo-random byte strings over `alphabet`, 0 to 197 bytes long (so that some cross
/// one or two 64-byte boundaries), the same for the same `seed`.
///
/// ```
/// let strings: Vec<Vec<u8>> = sluicegate_abi::testing::byte_strings(b"a\"\\", 100, 7).collect();
/// assert_eq!(strings.len(), 100);
/// assert!(strings.iter().flatten().all(|byte| b"a\"\\".contains(byte)));
/// assert!(strings.iter().any(|bytes| bytes.len() > 128));
/// ```
pub fn byte_strings(alphabet: &[u8], count: usize, seed: u64) -> impl Iterator<Item = Vec<u8>> + '_ {
    assert!(!alphabet.is_empty(), "an alphabet to draw from");
    let mut state = seed;
    (0..count).map(move |_| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let len = (state >> 57) as usize + (state as usize & 1) * 70;
        (0..len).map(|idx| alphabet[((state >> (idx % 29 * 2)) as usize + idx) % alphabet.len()]).collect()
    })
}

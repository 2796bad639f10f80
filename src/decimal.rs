//! Decimal integers written straight into byte buffers: the time claims of every issued session
//! and the `Max-Age` of every `Set-Cookie`, without `format!` (`itoa`, two digits a step).

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// How many decimal digits `n` has.
pub(crate) fn decimal_len(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0, 1, 9, 10, 99, 100, 1_764_345_600, u64::MAX - 1, u64::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
            assert_eq!(decimal_len(n), n.to_string().len());
        }
    }
}

//! Set-based writes. A fold that writes many rows binds one array per column and turns them
//! back into rows in the statement (`INSERT … SELECT * FROM UNNEST($1::uuid[], $2::text[],
//! …)`), one round trip whatever the batch's size; [`column`] is how every such array is
//! made, from the rows the fold holds.

/// The values of one column of `rows`, in the rows' order.
pub(crate) fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_column_keeps_the_rows_order_and_may_borrow_from_them() {
        let rows = [(1, "a".to_owned()), (2, "b".to_owned())];
        assert_eq!(column(&rows, |r| r.0), vec![1, 2]);
        assert_eq!(column(&rows, |r| r.1.as_str()), vec!["a", "b"]);
    }
}

//! Rows read by position, with their columns matched to fields once per result (see
//! `column_fields!`).

use sqlx::postgres::PgRow;
use sqlx::{Column, Row};

/// The fields of `T` that columns can fill, one variant each (declared by
/// `column_fields!`).
pub(crate) trait Fields<T>: Copy {
    /// The field a column of this name fills, if any.
    fn named(name: &str) -> Option<Self>;
    /// Sets this field of `target` from column `index` of `row`.
    fn read(self, target: &mut T, row: &PgRow, index: usize) -> Result<(), sqlx::Error>;
}

/// Each column of `row` whose name is `prefix` and then a field's name, with that field:
/// the plan for every row of the same result.
pub(crate) fn plan<T, F: Fields<T>>(row: &PgRow, prefix: &str) -> Vec<(usize, F)> {
    row.columns()
        .iter()
        .enumerate()
        .filter_map(|(index, column)| {
            let field = column.name().strip_prefix(prefix).and_then(F::named)?;
            Some((index, field))
        })
        .collect()
}

/// Sets the fields of `target` that `plan` names from `row`.
pub(crate) fn read<T, F: Fields<T>>(
    plan: &[(usize, F)],
    target: &mut T,
    row: &PgRow,
) -> Result<(), sqlx::Error> {
    for (index, field) in plan {
        field.read(target, row, *index)?;
    }
    Ok(())
}

/// `rows` as `T`s: the fields of the columns present set, the others left at their defaults.
pub(crate) fn read_all<T: Default, F: Fields<T>>(rows: &[PgRow]) -> Result<Vec<T>, sqlx::Error> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let plan = plan::<T, F>(first, "");
    rows.iter()
        .map(|row| {
            let mut target = T::default();
            read(&plan, &mut target, row)?;
            Ok(target)
        })
        .collect()
}

/// One row as a `T` (a plan of its own: for single rows).
pub(crate) fn read_one<T: Default, F: Fields<T>>(row: &PgRow) -> Result<T, sqlx::Error> {
    let mut target = T::default();
    read(&plan::<T, F>(row, ""), &mut target, row)?;
    Ok(target)
}

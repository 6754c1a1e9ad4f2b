//! End-to-end tests of Doorstep across real processes: the programs they drive live in
//! `src/bin`, the tests in `tests/`.

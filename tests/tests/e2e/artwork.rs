//! End-to-end tests of the `artwork` stage.

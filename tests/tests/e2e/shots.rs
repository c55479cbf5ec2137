//! End-to-end tests of the `shots` stage.

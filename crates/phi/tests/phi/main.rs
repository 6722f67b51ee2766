//! Integration tests of localdx-phi: the corpus evaluations against the targets, redaction
//! consistency across notes, and the no-panic property on hostile input.

mod corpus;
mod no_panic;
mod redaction;

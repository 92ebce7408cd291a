//! Post-processing of finished recordings: the WebM remuxer and the worker that applies it.

pub mod ebml;
pub mod webm;
pub mod worker;

pub use worker::{PostProcessor, Process};

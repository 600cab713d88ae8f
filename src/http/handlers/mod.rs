pub mod audit;
pub mod cards;
pub mod enrollments;
pub mod facts;
pub mod holds;
pub mod ops;
pub mod principals;
pub mod retention;

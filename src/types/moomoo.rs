//! Names for moomoo users.
//!
//! The futu and moomoo SDKs speak exactly the same protocol; which brand an account
//! belongs to shows only in its [`SecurityFirm`] (values 2..=7 are moomoo entities).
//! These constants let moomoo users write the entity they mean; they are the same
//! values as the `Futu*` variants.
//!
//! ```
//! use ftapi::types::{moomoo, SecurityFirm};
//! assert_eq!(moomoo::MOOMOO_US, SecurityFirm::FutuInc);
//! assert_eq!(moomoo::MOOMOO_US.display_name(), "Moomoo US");
//! assert_eq!("moomoo_sg".parse::<SecurityFirm>().unwrap(), moomoo::MOOMOO_SG);
//! assert!(moomoo::ALL.iter().all(|f| f.is_moomoo()));
//! ```

pub use super::enums::SecurityFirm;

/// Moomoo Financial Inc. (United States), wire value 2.
pub const MOOMOO_US: SecurityFirm = SecurityFirm::FutuInc;
/// Moomoo Financial Singapore, wire value 3.
pub const MOOMOO_SG: SecurityFirm = SecurityFirm::FutuSg;
/// Moomoo Securities Australia, wire value 4.
pub const MOOMOO_AU: SecurityFirm = SecurityFirm::FutuAu;
/// Moomoo Financial Canada, wire value 5.
pub const MOOMOO_CA: SecurityFirm = SecurityFirm::FutuCa;
/// Moomoo Securities Malaysia, wire value 6.
pub const MOOMOO_MY: SecurityFirm = SecurityFirm::FutuMy;
/// Moomoo Securities Japan, wire value 7.
pub const MOOMOO_JP: SecurityFirm = SecurityFirm::FutuJp;
/// Futu Securities (Hong Kong), wire value 1 (not a moomoo entity; here for completeness).
pub const FUTU_HK: SecurityFirm = SecurityFirm::FutuSecurities;

/// Every moomoo entity.
pub const ALL: &[SecurityFirm] = &[MOOMOO_US, MOOMOO_SG, MOOMOO_AU, MOOMOO_CA, MOOMOO_MY, MOOMOO_JP];

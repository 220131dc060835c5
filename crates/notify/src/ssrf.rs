//! The SSRF guard, shared with the engine's `Input.Url` fetches: it lives in
//! `reelflow-netguard` and is re-exported here under its old path.

pub use reelflow_netguard::{
    AddressPolicy, CidrError, GuardedResolver, RefusedAddress, non_public_class,
};

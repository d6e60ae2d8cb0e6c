//! placeholder until the real adapter lands (being written on a branch)
use super::*;
use crate::secret::Secret;
#[derive(Debug)]
pub struct HttpJsonAdapter;
impl HttpJsonAdapter {
    pub fn new(_url: &str, _token: Option<Secret>, _timeout: Duration) -> crate::Result<Self> {
        Ok(HttpJsonAdapter)
    }
}
impl CartAdapter for HttpJsonAdapter {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, _d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        todo!()
    }
    fn set_quantities(&self, _s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        todo!()
    }
    fn fetch_quantities(&self, _c: Option<&str>, _l: u32) -> Result<QuantityPage, CartError> {
        todo!()
    }
}

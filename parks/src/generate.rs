//! Synthetic parks (being written).

/// Options of the synthetic park generator.
pub struct GenerateOptions {
    /// Number of enterprises.
    pub enterprises: usize,
    /// Seed.
    pub seed: u64,
    /// Steps.
    pub steps: usize,
}

/// Placeholder.
pub fn generate(_opts: &GenerateOptions) -> crate::schema::Park {
    unimplemented!("generator in progress")
}

/// Placeholder.
pub fn to_ron(_park: &crate::schema::Park) -> String {
    String::new()
}

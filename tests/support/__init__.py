"""What tests share with the benchmarks: the bulk seeder (bench/ imports it from here)."""

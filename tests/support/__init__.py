"""What tests share with the benchmarks (bench/ imports it from here; tests never import
bench/, tests/test_layering.py checks it): the bulk seeder (seeding.py), the benchmark app
(apps.py), an HTTP client (http.py), the Procfile's processes (deployment.py), hostile
requests for every page (hostile.py), report figures (report.py), and the statements a call
runs with their plans (plans.py)."""

def pytest_configure(config):
    config.addinivalue_line(
        "markers", "fuzz: the property-based run of the whole API (runs under CI=true or TTMT_FUZZ=1)"
    )

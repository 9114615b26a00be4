def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives examples/chat in headless Chromium (needs /usr/bin/chromium, node, "
                   "npm ci --prefix tests/browser and --prefix tests/compat; runs in CI, skips elsewhere)")

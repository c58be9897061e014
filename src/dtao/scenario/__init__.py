"""dtao.scenario: scenario files (TOML) parsed into typed, validated, frozen objects, and the initial
states they start from."""

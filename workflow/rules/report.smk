# report rules: written with the report stage

# evaluate rules: written with the evaluate stage

# tokenize rules: written with the tokenize stage

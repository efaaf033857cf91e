# genome rules: written with the genome stage

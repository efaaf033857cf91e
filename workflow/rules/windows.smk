# windows rules: written with the windows stage

# tasks rules: written with the tasks stage

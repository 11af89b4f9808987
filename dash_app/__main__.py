from dash_app.serve import main

main()

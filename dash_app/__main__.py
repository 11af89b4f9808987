from dash_app.app import main

main()

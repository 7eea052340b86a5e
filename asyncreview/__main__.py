from asyncreview.cli import main

raise SystemExit(main())

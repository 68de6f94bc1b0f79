from pos_sim.cli import main

raise SystemExit(main())

//! Resource bounds: connect/close cycles return the process's threads and descriptors to
//! the baseline. (One test in this binary, so nothing else runs beside it.)

mod common;

use common::*;

#[test]
fn five_hundred_connect_close_cycles_leave_nothing_behind() {
    let sim = sim(Mode::Cbc);
    let addr = sim.local_addr();
    {
        let (api, rx) = recorded_api(Mode::Cbc);
        connect(&api, &rx, &sim, Mode::Cbc);
    }
    wait_until("warm-up session closed", || sim.connection_count() == 0);
    let (threads, fds) = (thread_count(), fd_count());
    for i in 0..500 {
        let (api, rx) = recorded_api(Mode::Cbc);
        assert!(api.init_connect(&addr.ip().to_string(), addr.port(), true));
        assert_eq!(wait_init(&rx).0, 0, "cycle {i}");
        if i % 2 == 0 {
            api.close();
        } // else: Drop closes
    }
    wait_until("sessions closed", || sim.connection_count() == 0);
    wait_until("threads back to baseline", || thread_count() <= threads);
    wait_until("descriptors back to baseline", || fd_count() <= fds);
    println!("after 500 cycles: threads {} (baseline {threads}), fds {} (baseline {fds})", thread_count(), fd_count());
}

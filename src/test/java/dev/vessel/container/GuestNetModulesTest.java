package dev.vessel.container;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.guest.DefaultInitramfs;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Both guest initramfs images load the virtio-net driver, each module after those it needs (busybox insmod resolves nothing). */
class GuestNetModulesTest {
    static void loadsVirtioNetInOrder(List<String> modules) {
        List<String> order = List.of("virtio_ring", "virtio", "failover", "net_failover", "virtio_net");
        for (int i = 0; i < order.size(); i++) {
            assertTrue(modules.contains(order.get(i)), order.get(i) + " in " + modules);
            if (i > 0) {
                assertTrue(modules.indexOf(order.get(i - 1)) < modules.indexOf(order.get(i)),
                        order.get(i - 1) + " before " + order.get(i) + " in " + modules);
            }
        }
    }

    @Test
    void theBuiltInInitramfs() {
        loadsVirtioNetInOrder(DefaultInitramfs.VIRTIO_MODULES);
    }

    @Test
    void theContainerInitramfs() {
        loadsVirtioNetInOrder(ContainerInitramfs.MODULES);
    }
}

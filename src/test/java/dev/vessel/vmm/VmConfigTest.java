package dev.vessel.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.net.MacAddress;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class VmConfigTest {
    static final Path KERNEL = Path.of("/k/vmlinuz");

    @Test
    void networkCardsInOrderAndKeptByToBuilder() {
        NetConfig a = new NetConfig("tap0", MacAddress.parse("02:00:00:00:00:01"));
        NetConfig b = NetConfig.tap("tap1");
        VmConfig c = VmConfig.builder().kernel(KERNEL).net(a).net(b).build();
        assertEquals(List.of(a, b), c.nets());
        VmConfig d = c.toBuilder().cpus(2).build();
        assertEquals(List.of(a, b), d.nets(), "the random MAC was chosen once and stays");
        assertEquals(List.of(), VmConfig.builder().kernel(KERNEL).build().nets());
        assertEquals(List.of(), new VmConfig(KERNEL, null, null, 1, 64L << 20).nets());
        assertEquals(List.of(), new VmConfig(KERNEL, null, null, 1, 64L << 20, List.of(), null, null, null, false, false,
                null).nets(), "the description without network devices still builds");
    }

    @Test
    void aRandomMacIsLocallyAdministeredAndFreshEachTime() {
        NetConfig a = NetConfig.tap("tap0");
        NetConfig b = NetConfig.tap("tap0");
        assertTrue(a.mac().isLocallyAdministered());
        assertEquals(0x02, a.mac().octets()[0]);
        assertNotEquals(a.mac(), b.mac());
    }

    @Test
    void badNetworkCardsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> NetConfig.tap("tap%d"));
        assertThrows(IllegalArgumentException.class, () -> NetConfig.tap("a-very-long-interface"));
        assertThrows(IllegalArgumentException.class, () -> NetConfig.tap(""));
        assertThrows(NullPointerException.class, () -> new NetConfig("tap0", null));
        IllegalArgumentException twoOnOneTap = assertThrows(IllegalArgumentException.class,
                () -> VmConfig.builder().kernel(KERNEL).net(NetConfig.tap("tap0")).net(NetConfig.tap("tap0")).build());
        assertTrue(twoOnOneTap.getMessage().contains("tap0"), twoOnOneTap.getMessage());
        MacAddress mac = MacAddress.parse("02:00:00:00:00:09");
        IllegalArgumentException oneMac = assertThrows(IllegalArgumentException.class, () -> VmConfig.builder()
                .kernel(KERNEL).net(new NetConfig("tap0", mac)).net(new NetConfig("tap1", mac)).build());
        assertTrue(oneMac.getMessage().contains("02:00:00:00:00:09"), oneMac.getMessage());
    }
}

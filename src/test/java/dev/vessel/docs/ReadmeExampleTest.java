package dev.vessel.docs;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README shows the example the integration test runs, word for word. */
class ReadmeExampleTest {
    @Test
    void theReadmesJavaExampleIsExamplesHelloVm() throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        String example = Files.readString(Path.of("examples/HelloVm.java"));
        assertTrue(readme.contains("```java\n" + example + "```\n"),
                "README.md's \"Use Vessel from Java\" must show examples/HelloVm.java as it is");
    }
}

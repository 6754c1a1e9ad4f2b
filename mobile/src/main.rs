fn main() {
    doorstep_mobile::launch();
}

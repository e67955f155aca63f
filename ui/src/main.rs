fn main() {
    zeues_ui::start();
}
